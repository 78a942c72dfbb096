{#
    Monday of the ISO week of a timestamp or date, as a date (dbt.date_trunc returns a
    timestamp on DuckDB and Spark; both start weeks on Monday).
#}
{% macro week_start_date(column_name) -%}
    cast({{ dbt.date_trunc("week", column_name) }} as date)
{%- endmacro %}
