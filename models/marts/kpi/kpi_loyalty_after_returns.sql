{#
    Loyalty after a return: repeat-purchase rates of order cohorts (by order date) within
    90 and 180 days, per period grain and segment of return experience (the order's first
    return: refund speed, outcome, reason). Each segment type splits all orders of the
    cohort (orders without a return are 'no_return'), so its rows add up to the 'all' row.
    Counts are taken per order (int_orders_joined_to_repeat_purchases), summed to days,
    rolled up to weeks and months; rates come last.
#}
with

orders as (

    select * from {{ ref('int_orders_joined_to_repeat_purchases') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

grains as (

    {{ period_grains() }}

),

{% set segments = [
    ("all", "'all'"),
    ("has_return", "case when has_return then 'with_return' else 'no_return' end"),
    ("refund_speed", "first_return_refund_speed"),
    ("outcome", "first_return_outcome"),
    ("reason_group", "first_return_reason_group"),
    ("reason", "first_return_reason"),
] %}

orders_aggregated_to_days as (

    {% for segment_type, segment_column in segments %}
        select
            '{{ segment_type }}' as segment_type,
            {{ segment_column }} as segment_value,
            ordered_date,
            count(*) as orders,
            sum(case when has_repeat_purchase_90d then 1 else 0 end) as orders_with_repeat_90d,
            sum(case when has_repeat_purchase_180d then 1 else 0 end) as orders_with_repeat_180d,
            sum(next_180d_orders) as next_180d_orders,
            sum(next_180d_revenue_eur) as next_180d_revenue_eur
        from orders
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

days_rolled_up_to_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'daily.ordered_date') }} as period_start_date,
        daily.segment_type,
        daily.segment_value,
        sum(daily.orders) as orders,
        sum(daily.orders_with_repeat_90d) as orders_with_repeat_90d,
        sum(daily.orders_with_repeat_180d) as orders_with_repeat_180d,
        sum(daily.next_180d_orders) as next_180d_orders,
        sum(daily.next_180d_revenue_eur) as next_180d_revenue_eur
    from orders_aggregated_to_days as daily
    cross join grains
    group by 1, 2, 3, 4

),

periods_with_end_dates as (

    select
        *,
        {{ period_end_date('period_grain', 'period_start_date') }} as period_end_date
    from days_rolled_up_to_periods

),

final as (

    select
        cast(periods.period_grain as string) as period_grain,
        cast(periods.segment_type as string) as segment_type,
        cast(periods.segment_value as string) as segment_value,
        cast(periods.orders as bigint) as orders,
        cast(periods.orders_with_repeat_90d as bigint) as orders_with_repeat_90d,
        cast(periods.orders_with_repeat_180d as bigint) as orders_with_repeat_180d,
        cast(
            cast(periods.orders_with_repeat_90d as double) / nullif(periods.orders, 0) as double
        ) as repeat_purchase_rate_90d,
        cast(
            cast(periods.orders_with_repeat_180d as double) / nullif(periods.orders, 0) as double
        ) as repeat_purchase_rate_180d,
        cast(periods.next_180d_orders as bigint) as next_180d_orders,
        cast(periods.next_180d_revenue_eur as decimal(18, 2)) as next_180d_revenue_eur,
        cast(
            cast(periods.next_180d_revenue_eur as double) / nullif(periods.orders, 0) as double
        ) as next_180d_revenue_per_order_eur,
        {# every order of the period (the last one placed before period_end_date + 1 day) has
           had its whole window by the as-of date #}
        coalesce(
            cast({{ dbt.dateadd('day', 91, 'periods.period_end_date') }} as date)
            <= warehouse_as_of.as_of_date,
            false
        ) as is_90d_window_closed,
        coalesce(
            cast({{ dbt.dateadd('day', 181, 'periods.period_end_date') }} as date)
            <= warehouse_as_of.as_of_date,
            false
        ) as is_cohort_mature,
        cast(periods.period_start_date as date) as period_start_date,
        cast(periods.period_end_date as date) as period_end_date
    from periods_with_end_dates as periods
    cross join warehouse_as_of

)

select * from final
