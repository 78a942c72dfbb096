{#
    Pre-hook of an incremental model (append strategy) holding a flag that follows from the
    data's as-of date (int_warehouse_as_of) alone, e.g. fct_order_lines.is_return_window_closed:
    on an incremental build, delete its rows whose stored `flag_column` differs from what it is
    at today's as-of date, `date_column` plus `days` on or before it (false when either is
    null), so that the run appends them again. Both directions: a window closing as the as-of
    date moves on, and one opening again when it moves back (data removed). The model's body
    appends every row it no longer holds. Nothing on a first or full-refresh build.
    The as-of date is read before the DELETE and pasted as a checked date literal: a plain
    DELETE without a subquery, as Delta accepts it. Dispatched, as delete_changed.
#}
{% macro delete_as_of_crossings(flag_column, date_column, days) -%}
    {{ return(adapter.dispatch('delete_as_of_crossings', 'returnlens')(
        flag_column, date_column, days
    )) }}
{%- endmacro %}

{% macro default__delete_as_of_crossings(flag_column, date_column, days) -%}
    {%- if is_incremental() and execute -%}
        {%- set found = run_query(
            "select cast(as_of_date as " ~ dbt.type_string() ~ ") from "
            ~ ref('int_warehouse_as_of')
        ) -%}
        {%- set as_of = found.rows[0][0] if found.rows | length else none -%}
        {%- if as_of is none -%}
            {%- set is_closed = 'false' -%}
        {%- else -%}
            {#- a date, checked, never pasted into SQL as given -#}
            {%- set day = modules.datetime.date.fromisoformat(as_of | string) -%}
            {%- set is_closed -%}
                coalesce(
                    cast({{ dbt.dateadd('day', days | int, date_column) }} as date)
                    <= cast('{{ day.isoformat() }}' as date),
                    false
                )
            {%- endset -%}
        {%- endif -%}
        delete from {{ this }}
        where {{ flag_column }} <> {{ is_closed }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_as_of_crossings(flag_column, date_column, days) -%}
    {%- if is_incremental() and config.get('file_format') != 'delta' -%}
        {{ exceptions.raise_compiler_error(
            this ~ " deletes the rows whose " ~ flag_column ~ " the as-of date changed, and"
            ~ " Spark deletes rows from Delta tables only; set file_format delta on the model,"
            ~ " or rebuild it with --full-refresh on every run"
        ) }}
    {%- else -%}
        {{ default__delete_as_of_crossings(flag_column, date_column, days) }}
    {%- endif -%}
{%- endmacro %}
