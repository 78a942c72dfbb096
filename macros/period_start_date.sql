{#
    The first day of the period of a date, for a period grain held in an SQL expression
    ('day', 'week' (Monday) or 'month').
#}
{% macro period_start_date(grain_expression, date_expression) -%}
    case {{ grain_expression }}
        when 'day' then cast({{ date_expression }} as date)
        when 'week' then {{ week_start_date(date_expression) }}
        when 'month' then {{ month_start_date(date_expression) }}
    end
{%- endmacro %}
