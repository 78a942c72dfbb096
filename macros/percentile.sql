{#
    Continuous percentile (linear interpolation) of an expression inside an aggregate query.
    percentile_cont(p) within group (order by x) gives the same result on DuckDB and Spark
    (Spark's percentile_approx is inexact and slower; DuckDB's quantile_cont is DuckDB-only).
    Kept behind one dispatched macro so an adapter that spells it differently gets its own.
#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch("percentile", "returnlens")(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}
