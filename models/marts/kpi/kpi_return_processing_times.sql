{#
    How long returns take, per step, period grain (of the request date) and slice: mean,
    median and 90th percentile in hours and days over the return lines whose step has both
    timestamps. Percentiles cannot be rolled up, so each grain is computed from the lines.
    Exact percentiles at bounded memory: percentile_cont is a holistic aggregate that held
    every group's durations in memory at once (out of memory at 10M order lines, issue 16).
    Instead, per period, slice and step, the lines are counted per whole hour of duration (a
    hash aggregate, which spills), the hours holding the ranks each percentile lies between
    are found from cumulative counts, and only those hours' lines are ranked (row_number);
    each percentile interpolates between its two ranked values (macros percentile_position,
    percentile_interpolate), bit for bit percentile_cont's result.
    The lines are counted per hour once, per request day; the weeks' and months' counts are
    sums of their days' (exact for counts and whole seconds, unlike percentiles), and the
    lines are joined back once, on the day's hour, for the periods of all three grains. The
    version before bucketed and joined every line once per grain (a cross join with the
    grains) and kept the sliced lines as a shared CTE: at 10M order lines 40 s CPU against
    11 s now (2 threads, medians of 3 alternating rounds; peak 1.07 GiB under a 1 GiB
    memory_limit), the same rows (except all both ways; issue 16).
#}
{%- set steps = [
    ("requested_to_received", "hours_requested_to_received"),
    ("received_to_inspected", "hours_received_to_inspected"),
    ("inspected_to_refunded", "hours_inspected_to_refunded"),
    ("requested_to_refunded", "hours_requested_to_refunded"),
] -%}
{#- the lines once per slice, written once and emitted as both CTEs below -#}
{%- set sliced_lines -%}
    {%- for slice_type, slice_column in kpi_slices() %}
        select
            {{ loop.index }} as slice_number,
            {{ slice_column }} as slice_value,
            requested_date,
            step_number,
            duration_hours,
            duration_seconds
        from step_durations
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endset -%}
with

return_lines as (

    select * from {{ ref('fct_returns') }}

),

step_durations as (

    {% for step, duration_column in steps %}
        select
            category,
            supplier_id,
            channel,
            requested_date,
            -- the step as a number for the hash tables and sorts below (long strings are
            -- slow there); named in final
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

-- the lines once per slice (the all-slices total, category, supplier, channel; the slice as
-- a number, named in final), read by the bucket counts and by the ranking as two CTEs of
-- the same SQL: one CTE read twice would be kept whole (16 rows per line) between the passes
step_durations_to_count as (

    {{ sliced_lines }}

),

step_durations_to_rank as (

    {{ sliced_lines }}

),

-- per request day, slice and step: how many lines fall in each whole hour of duration (a
-- hash aggregate, which spills), the one pass over all lines for the three grains
day_buckets as (

    select
        requested_date,
        slice_number,
        slice_value,
        step_number,
        floor(duration_hours) as duration_bucket,
        count(*) as bucket_lines,
        sum(duration_seconds) as bucket_seconds
    from step_durations_to_count
    group by 1, 2, 3, 4, 5

),

-- the weeks' and months' hour buckets rolled up from the days' (exact: counts and sums of
-- whole seconds), instead of bucketing every line once more per grain
durations_bucketed as (

    select
        'day' as period_grain,
        requested_date as period_start_date,
        slice_number,
        slice_value,
        step_number,
        duration_bucket,
        bucket_lines,
        bucket_seconds
    from day_buckets
    {% for grain in ['week', 'month'] %}
        union all
        select
            '{{ grain }}' as period_grain,
            {{ period_start_date("'" ~ grain ~ "'", 'requested_date') }} as period_start_date,
            slice_number,
            slice_value,
            step_number,
            duration_bucket,
            sum(bucket_lines) as bucket_lines,
            sum(bucket_seconds) as bucket_seconds
        from day_buckets
        group by 1, 2, 3, 4, 5, 6
    {% endfor %}

),

buckets_ranked as (

    select
        *,
        sum(bucket_lines) over (
            partition by period_grain, period_start_date, slice_number, slice_value, step_number
            order by duration_bucket
            rows between unbounded preceding and current row
        ) - bucket_lines as bucket_first_rank,
        sum(bucket_lines) over (
            partition by period_grain, period_start_date, slice_number, slice_value, step_number
        ) as lines_in_group,
        sum(bucket_seconds) over (
            partition by period_grain, period_start_date, slice_number, slice_value, step_number
        ) as duration_seconds_measured
    from durations_bucketed

),

buckets_positioned as (

    select
        *,
        cast(lines_in_group as bigint) as return_lines_measured,
        {{ percentile_position('lines_in_group', 0.5) }} as median_position,
        {{ percentile_position('lines_in_group', 0.9) }} as p90_position
    from buckets_ranked

),

-- the hours holding the (at most four) ranks the percentiles lie between
buckets_needed as (

    select *
    from buckets_positioned
    where
        {%- for rank in [
            'floor(median_position)', 'ceil(median_position)',
            'floor(p90_position)', 'ceil(p90_position)',
        ] %}
            {% if not loop.first %}or {% endif -%}
            ({{ rank }} >= bucket_first_rank and {{ rank }} < bucket_first_rank + bucket_lines)
        {%- endfor %}

),

-- the days' hour buckets that make up the needed ones, each with the (up to three) periods
-- needing it: the key the lines are joined on, so each line is read once, not once per grain
day_buckets_needed as (

    {% for grain in ['day', 'week', 'month'] %}
        select
            day_buckets.requested_date,
            buckets.period_grain,
            buckets.period_start_date,
            buckets.slice_number,
            buckets.slice_value,
            buckets.step_number,
            buckets.duration_bucket,
            buckets.return_lines_measured,
            buckets.duration_seconds_measured,
            buckets.median_position,
            buckets.p90_position,
            buckets.bucket_first_rank
        from day_buckets
        inner join buckets_needed as buckets
            on
                {{ period_start_date("'" ~ grain ~ "'", 'day_buckets.requested_date') }}
                = buckets.period_start_date
                and day_buckets.slice_number = buckets.slice_number
                and day_buckets.slice_value = buckets.slice_value
                and day_buckets.step_number = buckets.step_number
                and day_buckets.duration_bucket = buckets.duration_bucket
        where buckets.period_grain = '{{ grain }}'
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- only the lines of those hours are sorted (a small share of all)
durations_ranked as (

    select
        buckets.period_grain,
        buckets.period_start_date,
        buckets.slice_number,
        buckets.slice_value,
        buckets.step_number,
        buckets.return_lines_measured,
        buckets.duration_seconds_measured,
        buckets.median_position,
        buckets.p90_position,
        durations.duration_hours,
        buckets.bucket_first_rank + row_number() over (
            partition by
                buckets.period_grain,
                buckets.period_start_date,
                buckets.slice_number,
                buckets.slice_value,
                buckets.step_number,
                buckets.duration_bucket
            order by durations.duration_hours
        ) - 1 as duration_rank
    from step_durations_to_rank as durations
    inner join day_buckets_needed as buckets
        on
            durations.requested_date = buckets.requested_date
            and durations.slice_number = buckets.slice_number
            and durations.slice_value = buckets.slice_value
            and durations.step_number = buckets.step_number
            and floor(durations.duration_hours) = buckets.duration_bucket

),

-- per period, slice and step only the (at most four) lines the percentiles lie between
order_statistics as (

    select
        period_grain,
        period_start_date,
        slice_number,
        slice_value,
        step_number,
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
    from durations_ranked
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
        slice_number,
        slice_value,
        step_number,
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
        cast(case slice_number
            {% for slice_type, slice_column in kpi_slices() %}
                when {{ loop.index }} then '{{ slice_type }}'
            {% endfor %}
        end as string) as slice_type,
        cast(slice_value as string) as slice_value,
        cast(case step_number
            {% for step, duration_column in steps %}
                when {{ loop.index }} then '{{ step }}'
            {% endfor %}
        end as string) as step,
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
