{#
    The outcome mix of returns over time, per period grain (of the request date) and slice:
    return lines per outcome (refund, store credit, exchange, keep-it, rejected, cancelled;
    macro return_outcome) and each outcome's share of the period's return lines, with the
    lines still open. Wide: one column pair per outcome, zeros where none occurred.
#}
with

return_lines as (

    select * from {{ ref('fct_returns') }}

),

grains as (

    {{ period_grains() }}

),

{% set outcomes = ["refund", "store_credit", "exchange", "keep_it", "rejected", "cancelled"] %}

return_lines_with_outcomes as (

    select
        *,
        {{ return_outcome('return_state', 'resolution') }} as outcome
    from return_lines

),

return_lines_aggregated_to_days as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            requested_date,
            count(*) as return_lines,
            {% for outcome in outcomes %}
                sum(case when outcome = '{{ outcome }}' then 1 else 0 end)
                    as {{ outcome }}_lines,
            {% endfor %}
            sum(case when is_open then 1 else 0 end) as open_return_lines
        from return_lines_with_outcomes
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

days_rolled_up_to_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'daily.requested_date') }}
            as period_start_date,
        daily.slice_type,
        daily.slice_value,
        sum(daily.return_lines) as return_lines,
        {% for outcome in outcomes %}
            sum(daily.{{ outcome }}_lines) as {{ outcome }}_lines,
        {% endfor %}
        sum(daily.open_return_lines) as open_return_lines
    from return_lines_aggregated_to_days as daily
    cross join grains
    group by 1, 2, 3, 4

),

final as (

    select
        cast(periods.period_grain as string) as period_grain,
        cast(periods.slice_type as string) as slice_type,
        cast(periods.slice_value as string) as slice_value,
        cast(periods.return_lines as bigint) as return_lines,
        {% for outcome in outcomes %}
            cast(periods.{{ outcome }}_lines as bigint) as {{ outcome }}_lines,
        {% endfor %}
        {% for outcome in outcomes %}
            cast(
                cast(periods.{{ outcome }}_lines as double) / nullif(periods.return_lines, 0)
                as double
            ) as {{ outcome }}_share,
        {% endfor %}
        cast(periods.open_return_lines as bigint) as open_return_lines,
        cast(periods.period_start_date as date) as period_start_date,
        cast({{ period_end_date('periods.period_grain', 'periods.period_start_date') }} as date)
            as period_end_date
    from days_rolled_up_to_periods as periods

)

select * from final
