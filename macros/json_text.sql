{#
    The text of one top-level key of a JSON object held in a string column (null when the
    column or the key is null): the platform fields the loader keeps in raw's `_extra`.
    json_extract_string on DuckDB, get_json_object on Spark.
#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch("json_text", "returnlens")(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}
