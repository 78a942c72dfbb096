{#
    The first day of the month of a date or timestamp, as a date (dbt.date_trunc returns a
    timestamp on DuckDB and Spark).
#}
{% macro month_start_date(column_name) -%}
    cast({{ dbt.date_trunc("month", column_name) }} as date)
{%- endmacro %}
