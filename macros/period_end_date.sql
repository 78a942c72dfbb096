{#
    The last day (inclusive) of a period, given the grain ('day', 'week', 'month') and the
    period's first day.
#}
{% macro period_end_date(grain_expression, start_date_expression) -%}
    case {{ grain_expression }}
        when 'day' then cast({{ start_date_expression }} as date)
        when 'week' then cast({{ dbt.dateadd('day', 6, start_date_expression) }} as date)
        when 'month' then cast({{ dbt.last_day(start_date_expression, 'month') }} as date)
    end
{%- endmacro %}
