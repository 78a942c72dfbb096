{#
    P(Z > z) for a standard normal Z, as a double: 0.5 * erfc(z / sqrt 2), with erfc from the
    Chebyshev fit of Numerical Recipes (erfcc; fractional error below 1.2e-7 over the whole
    line, so small tail probabilities keep their relative accuracy, which the false-discovery
    ranking of the quality rules needs). Plain arithmetic, abs and exp: the same on DuckDB and
    Spark, neither of which has erf. Pass a column name (z is repeated in the expression).
    Null when z is null; 0 when the tail underflows (z above ~38).
#}
{% macro normal_upper_tail(z) -%}
    {%- set t = '(1.0 / (1.0 + 0.5 * abs(' ~ z ~ ') * 0.7071067811865476))' -%}
    {%- set a = '(abs(' ~ z ~ ') * 0.7071067811865476)' -%}
    (case when {{ z }} is null then null else
        0.5 * (1.0 - (case when {{ z }} < 0 then -1.0 else 1.0 end))
        + (case when {{ z }} < 0 then -1.0 else 1.0 end) * 0.5 * {{ t }} * exp(
            -{{ a }} * {{ a }} - 1.26551223 + {{ t }} * (1.00002368 + {{ t }} * (0.37409196
            + {{ t }} * (0.09678418 + {{ t }} * (-0.18628806 + {{ t }} * (0.27886807
            + {{ t }} * (-1.13520398 + {{ t }} * (1.48851587 + {{ t }} * (-0.82215223
            + {{ t }} * 0.17087277))))))))
        ) end)
{%- endmacro %}
