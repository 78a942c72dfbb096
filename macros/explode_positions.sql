{#
    One row per position 1..n of a row (n an integer expression >= 1), as a select-list
    expression: used to cut a text into its character n-grams for the keyword index.
    Dispatched: DuckDB unnests a range, Spark explodes a sequence.
#}
{% macro explode_positions(n) -%}
    {{ return(adapter.dispatch("explode_positions", "returnlens")(n)) }}
{%- endmacro %}

{% macro default__explode_positions(n) -%}
    explode(sequence(1, {{ n }}))
{%- endmacro %}

{% macro duckdb__explode_positions(n) -%}
    unnest(range(1, ({{ n }}) + 1))
{%- endmacro %}
