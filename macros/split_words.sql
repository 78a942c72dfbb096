{#
    One row per space-separated word of a text, as a select-list expression (empty words
    included; filter them). Dispatched: DuckDB unnests string_split, Spark explodes split.
#}
{% macro split_words(expression) -%}
    {{ return(adapter.dispatch("split_words", "returnlens")(expression)) }}
{%- endmacro %}

{% macro default__split_words(expression) -%}
    explode(split({{ expression }}, ' '))
{%- endmacro %}

{% macro duckdb__split_words(expression) -%}
    unnest(string_split({{ expression }}, ' '))
{%- endmacro %}
