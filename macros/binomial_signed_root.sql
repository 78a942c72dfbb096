{#
    Signed square root of the binomial deviance of `successes` out of `trials` against the
    rate `rate`, with a continuity correction (successes - 0.5): the z-score whose normal upper
    tail (normal_upper_tail) is the one-sided p-value of "the true rate is above `rate`".
    Checked against the exact binomial tail for n 15..5,000 and rates 0.01..0.9 where the exact
    p-value is between 1e-9 and 0.05: within a factor 0.7..2.6 of it (median 1.01), where the
    plain normal score (what the Wilson bound inverts) was off by up to 40 orders of magnitude
    for rare events. Portable arithmetic (ln, sqrt). Pass column names. Edge cases as finite
    values so the tail stays exact: no success, or a rate of 1 or more, gives -40 (p-value 1);
    a success against a rate of 0 or less gives 40 (p-value 0). Null when trials is not
    positive or rate is null.
#}
{% macro binomial_signed_root(successes, trials, rate) -%}
    {%- set x = '(cast(' ~ successes ~ ' as double) - 0.5)' -%}
    {%- set n = 'cast(' ~ trials ~ ' as double)' -%}
    case
        when {{ trials }} is null or {{ trials }} <= 0 or {{ rate }} is null then null
        when {{ x }} <= 0 or {{ rate }} >= 1 then -40.0
        when {{ rate }} <= 0 then 40.0
        else (case when {{ x }} > {{ n }} * {{ rate }} then 1.0 else -1.0 end) * sqrt(greatest(
            0.0,
            2.0 * (
                {{ x }} * ln({{ x }} / ({{ n }} * {{ rate }}))
                + ({{ n }} - {{ x }}) * ln(({{ n }} - {{ x }}) / ({{ n }} * (1.0 - {{ rate }})))
            )
        ))
    end
{%- endmacro %}
