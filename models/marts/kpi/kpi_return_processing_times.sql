{#
    How long returns take, per step, period grain (of the request date) and slice: mean,
    median and 90th percentile in hours and days over the return lines whose step has both
    timestamps. Percentiles cannot be rolled up, so each grain is computed from the lines.
    Exact percentiles at bounded memory: the lines are ranked by a sort per period, slice and
    step (row_number, which spills to disk), and each percentile interpolates between the two
    ranked values it lies between (macros percentile_position, percentile_interpolate), bit
    for bit percentile_cont's result; percentile_cont itself is a holistic aggregate that held
    every group's durations in memory at once (out of memory at 10M order lines, issue 16).
    The price is time: at 10M order lines the sort costs ~8x percentile_cont's CPU (111 s vs
    13.5 s; make bench BENCH=bench_percentiles), but completes within a 1 GiB limit where
    percentile_cont fails.
#}
{%- set steps = [
    ("requested_to_received", "hours_requested_to_received"),
    ("received_to_inspected", "hours_received_to_inspected"),
    ("inspected_to_refunded", "hours_inspected_to_refunded"),
    ("requested_to_refunded", "hours_requested_to_refunded"),
] -%}
with

return_lines as (

    select * from {{ ref('fct_returns') }}

),

grains as (

    {{ period_grains() }}

),

step_durations as (

    {% for step, duration_column in steps %}
        select
            rma_id,
            order_line_id,
            category,
            supplier_id,
            channel,
            requested_date,
            '{{ step }}' as step,
            -- the step as a number for the sort below (long strings sort slowly)
            {{ loop.index }} as step_number,
            {{ duration_column }} as duration_hours,
            -- whole seconds (the hours are seconds / 3600): summed exactly, so the mean does
            -- not depend on the order parallel threads add doubles in
            cast(round({{ duration_column }} * 3600) as bigint) as duration_seconds
        from return_lines
        where {{ duration_column }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

step_durations_sliced as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            requested_date,
            step,
            step_number,
            duration_hours,
            duration_seconds
        from step_durations
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

step_durations_in_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'durations.requested_date') }}
            as period_start_date,
        durations.slice_type,
        durations.slice_value,
        durations.step,
        durations.step_number,
        durations.duration_hours,
        durations.duration_seconds
    from step_durations_sliced as durations
    cross join grains

),

durations_ranked as (

    select
        period_grain,
        period_start_date,
        slice_type,
        slice_value,
        step,
        duration_hours,
        row_number() over (
            partition by period_grain, period_start_date, slice_type, slice_value, step_number
            order by duration_hours
        ) - 1 as duration_rank,
        count(*) over (
            partition by period_grain, period_start_date, slice_type, slice_value, step_number
        ) as return_lines_measured,
        sum(duration_seconds) over (
            partition by period_grain, period_start_date, slice_type, slice_value, step_number
        ) as duration_seconds_measured
    from step_durations_in_periods

),

durations_positioned as (

    select
        *,
        {{ percentile_position('return_lines_measured', 0.5) }} as median_position,
        {{ percentile_position('return_lines_measured', 0.9) }} as p90_position
    from durations_ranked

),

-- per period, slice and step only the (at most four) lines the percentiles lie between
order_statistics as (

    select
        period_grain,
        period_start_date,
        slice_type,
        slice_value,
        step,
        max(return_lines_measured) as return_lines_measured,
        max(duration_seconds_measured) as duration_seconds_measured,
        max(median_position) as median_position,
        max(p90_position) as p90_position,
        max(case when duration_rank = floor(median_position) then duration_hours end)
            as median_lower_hours,
        max(case when duration_rank = ceil(median_position) then duration_hours end)
            as median_upper_hours,
        max(case when duration_rank = floor(p90_position) then duration_hours end)
            as p90_lower_hours,
        max(case when duration_rank = ceil(p90_position) then duration_hours end)
            as p90_upper_hours
    from durations_positioned
    where
        duration_rank = floor(median_position)
        or duration_rank = ceil(median_position)
        or duration_rank = floor(p90_position)
        or duration_rank = ceil(p90_position)
    group by 1, 2, 3, 4, 5

),

durations_aggregated_to_periods as (

    select
        period_grain,
        period_start_date,
        slice_type,
        slice_value,
        step,
        return_lines_measured,
        duration_seconds_measured / (3600.0 * return_lines_measured) as mean_hours,
        {{ percentile_interpolate('median_lower_hours', 'median_upper_hours', 'median_position') }}
            as median_hours,
        {{ percentile_interpolate('p90_lower_hours', 'p90_upper_hours', 'p90_position') }}
            as p90_hours
    from order_statistics

),

final as (

    select
        cast(period_grain as string) as period_grain,
        cast(slice_type as string) as slice_type,
        cast(slice_value as string) as slice_value,
        cast(step as string) as step,
        cast(return_lines_measured as bigint) as return_lines_measured,
        cast(mean_hours as double) as mean_hours,
        cast(median_hours as double) as median_hours,
        cast(p90_hours as double) as p90_hours,
        cast(mean_hours / 24.0 as double) as mean_days,
        cast(median_hours / 24.0 as double) as median_days,
        cast(p90_hours / 24.0 as double) as p90_days,
        cast(period_start_date as date) as period_start_date,
        cast({{ period_end_date('period_grain', 'period_start_date') }} as date)
            as period_end_date
    from durations_aggregated_to_periods

)

select * from final
