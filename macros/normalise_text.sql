{#
    Normalise free text for matching against a lookup: typographic apostrophes made plain,
    lower case, runs of whitespace collapsed to one space, trimmed; empty text becomes null.
    Dispatched because regexp_replace replaces only the first match on DuckDB unless told 'g'.
#}
{% macro normalise_text(expression) -%}
    {{ return(adapter.dispatch("normalise_text", "returnlens")(expression)) }}
{%- endmacro %}

{% macro default__normalise_text(expression) -%}
    nullif(trim(regexp_replace(lower(replace({{ expression }}, '’', '''')), '\\s+', ' ')), '')
{%- endmacro %}

{% macro duckdb__normalise_text(expression) -%}
    nullif(
        trim(regexp_replace(lower(replace({{ expression }}, '’', '''')), '\s+', ' ', 'g')), ''
    )
{%- endmacro %}
