{#
    The mix of standard return reasons, per period grain (of the request date) and slice:
    return lines and units per reason and their share of all returns of the period and
    slice. Only reasons that occur get a row; shares of a period and slice add up to 1.
#}
with

return_lines as (

    select * from {{ ref('fct_returns') }}

),

reason_taxonomy as (

    select * from {{ ref('reason_taxonomy') }}

),

grains as (

    {{ period_grains() }}

),

return_lines_aggregated_to_days as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            requested_date,
            reason,
            count(*) as return_lines,
            sum(returned_quantity) as units_returned
        from return_lines
        group by 1, 2, 3, 4
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
        daily.reason,
        sum(daily.return_lines) as return_lines,
        sum(daily.units_returned) as units_returned
    from return_lines_aggregated_to_days as daily
    cross join grains
    group by 1, 2, 3, 4, 5

),

periods_with_totals as (

    select
        *,
        sum(return_lines) over (
            partition by period_grain, period_start_date, slice_type, slice_value
        ) as total_return_lines,
        sum(units_returned) over (
            partition by period_grain, period_start_date, slice_type, slice_value
        ) as total_units_returned
    from days_rolled_up_to_periods

),

final as (

    select
        cast(periods.period_grain as string) as period_grain,
        cast(periods.slice_type as string) as slice_type,
        cast(periods.slice_value as string) as slice_value,
        cast(periods.reason as string) as reason,
        cast(reason_taxonomy.reason_label as string) as reason_label,
        cast(reason_taxonomy.reason_group as string) as reason_group,
        cast(periods.return_lines as bigint) as return_lines,
        cast(periods.units_returned as bigint) as units_returned,
        cast(periods.total_return_lines as bigint) as total_return_lines,
        cast(
            cast(periods.return_lines as double) / nullif(periods.total_return_lines, 0)
            as double
        ) as share_of_return_lines,
        cast(
            cast(periods.units_returned as double) / nullif(periods.total_units_returned, 0)
            as double
        ) as share_of_units_returned,
        cast(periods.period_start_date as date) as period_start_date,
        cast({{ period_end_date('periods.period_grain', 'periods.period_start_date') }} as date)
            as period_end_date
    from periods_with_totals as periods
    left join reason_taxonomy
        on periods.reason = reason_taxonomy.reason

)

select * from final
