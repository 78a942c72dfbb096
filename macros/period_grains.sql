{#
    The period grains of the KPI marts as a one-column relation (period_grain: day, week,
    month), to cross join daily facts with before rolling them up.
#}
{% macro period_grains() -%}
    select 'day' as period_grain
    union all
    select 'week' as period_grain
    union all
    select 'month' as period_grain
{%- endmacro %}
