{#
    A select-list expression that expands one row with a start and an end date into one row
    per day from start to end (both inclusive), as a column of dates. Use it as the only
    expression of a select over a one-row relation:
        select {{ date_series('start_date', 'end_date') }} as date_day from bounds
#}
{% macro date_series(start_date, end_date) -%}
    {{ return(adapter.dispatch("date_series", "returnlens")(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_series(start_date, end_date) -%}
    {{ exceptions.raise_compiler_error(
        "date_series is not implemented for adapter " ~ adapter.type()
    ) }}
{%- endmacro %}

{% macro duckdb__date_series(start_date, end_date) -%}
    cast(unnest(range(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp) + interval 1 day,
        interval 1 day
    )) as date)
{%- endmacro %}

{% macro spark__date_series(start_date, end_date) -%}
    explode(sequence(
        cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day
    ))
{%- endmacro %}
