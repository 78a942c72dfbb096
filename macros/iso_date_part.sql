{#
    ISO 8601 calendar parts of a date as bigint: 'year' (ISO week-numbering year), 'week'
    (1-53, weeks start on Monday) and 'day_of_week' (Monday 1 .. Sunday 7).
#}
{% macro iso_date_part(part, date_expression) -%}
    {{ return(adapter.dispatch("iso_date_part", "returnlens")(part, date_expression)) }}
{%- endmacro %}

{% macro default__iso_date_part(part, date_expression) -%}
    {{ exceptions.raise_compiler_error(
        "iso_date_part is not implemented for adapter " ~ adapter.type()
    ) }}
{%- endmacro %}

{% macro duckdb__iso_date_part(part, date_expression) -%}
    {%- set parts = {"year": "isoyear", "week": "week", "day_of_week": "isodow"} -%}
    cast(extract({{ parts[part] }} from {{ date_expression }}) as bigint)
{%- endmacro %}

{% macro spark__iso_date_part(part, date_expression) -%}
    {%- set parts = {"year": "yearofweek", "week": "week", "day_of_week": "dayofweek_iso"} -%}
    cast(extract({{ parts[part] }} from {{ date_expression }}) as bigint)
{%- endmacro %}
