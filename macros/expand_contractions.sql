{#
    English contractions typed without the apostrophe ("dont", "doesnt", "wont") spelt as
    the folded keywords are ("don t", "doesn t", "won t"), in folded text (words between
    single spaces). Dispatched: the group reference in the replacement is \1 on DuckDB and
    $1 on Spark.
#}
{% macro expand_contractions(expression) -%}
    {{ return(adapter.dispatch("expand_contractions", "returnlens")(expression)) }}
{%- endmacro %}

{% macro _contraction_pattern() -%}
    ' (don|didn|doesn|isn|wasn|aren|weren|can|couldn|won|wouldn|haven|hasn|shouldn)t '
{%- endmacro %}

{% macro default__expand_contractions(expression) -%}
    regexp_replace({{ expression }}, {{ _contraction_pattern() }}, ' $1 t ')
{%- endmacro %}

{% macro duckdb__expand_contractions(expression) -%}
    regexp_replace({{ expression }}, {{ _contraction_pattern() }}, ' \1 t ', 'g')
{%- endmacro %}
