{#
    dbt.safe_cast is a plain cast on DuckDB and Spark; these make it a real try_cast
    (null instead of an error when the value does not convert).
#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
