{#
    The data's as-of date or moment (int_warehouse_as_of.as_of_date or .as_of_at) as a SQL
    literal, or none while the warehouse holds no data: read with run_query before a pre-hook's
    DELETE, so the DELETE needs no subquery (open-source Delta rejects one). The value is parsed
    as a date or timestamp first and written back from the parsed value, never pasted into SQL
    as read. Shared by the as-of pre-hooks delete_as_of_crossings and
    delete_as_of_age_crossings.
#}
{% macro as_of_literal(column) -%}
    {%- if column not in ('as_of_date', 'as_of_at') -%}
        {{ exceptions.raise_compiler_error(
            "as_of_literal reads as_of_date or as_of_at of int_warehouse_as_of, not " ~ column
        ) }}
    {%- endif -%}
    {%- set found = run_query(
        "select cast(" ~ column ~ " as " ~ dbt.type_string() ~ ") from "
        ~ ref('int_warehouse_as_of')
    ) -%}
    {%- set value = found.rows[0][0] if found.rows | length else none -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- elif column == 'as_of_date' -%}
        {%- set day = modules.datetime.date.fromisoformat(value | string) -%}
        {{ return("cast('" ~ day.isoformat() ~ "' as date)") }}
    {%- else -%}
        {%- set moment = modules.datetime.datetime.fromisoformat(value | string) -%}
        {{ return("cast('" ~ moment.isoformat(sep=' ') ~ "' as timestamp)") }}
    {%- endif -%}
{%- endmacro %}

{#
    The Spark branch of a pre-hook that deletes rows of an incremental model: a compile error
    unless the model is a Delta table (Spark deletes rows from Delta tables only), naming the
    model, what its hook deletes and the two ways out.
#}
{% macro require_delta_for_deletes(deletes_what) -%}
    {%- if is_incremental() and config.get('file_format') != 'delta' -%}
        {{ exceptions.raise_compiler_error(
            this ~ " deletes the rows whose " ~ deletes_what ~ ", and"
            ~ " Spark deletes rows from Delta tables only; set file_format delta on the model,"
            ~ " or rebuild it with --full-refresh on every run"
        ) }}
    {%- endif -%}
{%- endmacro %}
