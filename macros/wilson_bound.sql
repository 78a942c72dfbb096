{#
    Bound of the Wilson score interval of a proportion successes / trials, as a double:
    side 'lower' or 'upper', z = 1.96 for 95 %. Plain arithmetic and sqrt, so the same on
    DuckDB and Spark. Null when trials is 0 or null. Unlike the normal approximation it
    stays inside [0, 1] (exactly 0 / 1 at p = 0 / 1, clamped against rounding) and is honest
    about small samples (3 of 3 gives 0.44 .. 1).
#}
{% macro wilson_bound(successes, trials, side='lower', z=1.96) -%}
    {%- set sign = '-' if side == 'lower' else '+' -%}
    {%- set p = '(cast(' ~ successes ~ ' as double) / nullif(' ~ trials ~ ', 0))' -%}
    {%- set n = 'cast(nullif(' ~ trials ~ ', 0) as double)' -%}
    {%- set exact = ('when ' ~ successes ~ ' = 0 then 0.0') if side == 'lower'
        else ('when ' ~ successes ~ ' = ' ~ trials ~ ' then 1.0') %}
    {%- set clamp = 'greatest(0.0, ' if side == 'lower' else 'least(1.0, ' %}
    case when not {{ trials }} > 0 then null {{ exact }} else {{ clamp }}
    (
        ({{ p }} + {{ z * z }} / (2 * {{ n }}))
        {{ sign }} {{ z }} * sqrt(
            {{ p }} * (1 - {{ p }}) / {{ n }} + {{ z * z }} / (4 * {{ n }} * {{ n }})
        )
    ) / (1 + {{ z * z }} / {{ n }})) end
{%- endmacro %}
