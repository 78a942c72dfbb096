{#
    Returns by the date they were requested, per period grain and slice: what came back in
    the period against what was sold in the same period, revenue retained through exchanges
    and store credit, returns without a known order line, and NPS answered in the period.
    Each source is first summed per slice and day (int_return_lines_aggregated_to_request_days,
    int_order_lines_aggregated_to_order_days, int_nps_responses_aggregated_to_response_days).
#}
with

return_activity as (

    select * from {{ ref('int_return_lines_aggregated_to_request_days') }}

),

sales as (

    select * from {{ ref('int_order_lines_aggregated_to_order_days') }}

),

nps as (

    select * from {{ ref('int_nps_responses_aggregated_to_response_days') }}

),

grains as (

    {{ period_grains() }}

),

activity_stacked as (

    select
        slice_type,
        slice_value,
        activity_date,
        return_lines,
        return_lines_unknown_order_line,
        units_returned,
        refunded_eur,
        returned_value_eur,
        exchange_value_eur,
        store_credit_value_eur,
        orders_with_return,
        0 as orders,
        0 as units_sold,
        0 as gross_revenue_eur,
        0 as nps_responses,
        0 as promoters,
        0 as detractors,
        0 as ratings,
        0 as rating_total
    from return_activity

    union all

    select
        slice_type,
        slice_value,
        activity_date,
        0 as return_lines,
        0 as return_lines_unknown_order_line,
        0 as units_returned,
        0 as refunded_eur,
        0 as returned_value_eur,
        0 as exchange_value_eur,
        0 as store_credit_value_eur,
        0 as orders_with_return,
        orders,
        units_sold,
        gross_revenue_eur,
        0 as nps_responses,
        0 as promoters,
        0 as detractors,
        0 as ratings,
        0 as rating_total
    from sales

    union all

    select
        slice_type,
        slice_value,
        activity_date,
        0 as return_lines,
        0 as return_lines_unknown_order_line,
        0 as units_returned,
        0 as refunded_eur,
        0 as returned_value_eur,
        0 as exchange_value_eur,
        0 as store_credit_value_eur,
        0 as orders_with_return,
        0 as orders,
        0 as units_sold,
        0 as gross_revenue_eur,
        nps_responses,
        promoters,
        detractors,
        ratings,
        rating_total
    from nps

),

days_rolled_up_to_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'activity.activity_date') }}
            as period_start_date,
        activity.slice_type,
        activity.slice_value,
        sum(activity.return_lines) as return_lines,
        sum(activity.return_lines_unknown_order_line) as return_lines_unknown_order_line,
        sum(activity.units_returned) as units_returned,
        sum(activity.refunded_eur) as refunded_eur,
        sum(activity.returned_value_eur) as returned_value_eur,
        sum(activity.exchange_value_eur) as exchange_value_eur,
        sum(activity.store_credit_value_eur) as store_credit_value_eur,
        sum(activity.orders_with_return) as orders_with_return,
        sum(activity.orders) as orders,
        sum(activity.units_sold) as units_sold,
        sum(activity.gross_revenue_eur) as gross_revenue_eur,
        sum(activity.nps_responses) as nps_responses,
        sum(activity.promoters) as promoters,
        sum(activity.detractors) as detractors,
        sum(activity.ratings) as ratings,
        sum(activity.rating_total) as rating_total
    from activity_stacked as activity
    cross join grains
    group by 1, 2, 3, 4

),

final as (

    select
        cast(period_grain as string) as period_grain,
        cast(slice_type as string) as slice_type,
        cast(slice_value as string) as slice_value,
        cast(return_lines as bigint) as return_lines,
        cast(return_lines_unknown_order_line as bigint) as return_lines_unknown_order_line,
        cast(units_returned as bigint) as units_returned,
        cast(orders_with_return as bigint) as orders_with_return,
        cast(orders as bigint) as orders,
        cast(units_sold as bigint) as units_sold,
        cast(gross_revenue_eur as decimal(18, 2)) as gross_revenue_eur,
        cast(refunded_eur as decimal(18, 2)) as refunded_eur,
        cast(returned_value_eur as decimal(18, 2)) as returned_value_eur,
        cast(exchange_value_eur as decimal(18, 2)) as exchange_value_eur,
        cast(store_credit_value_eur as decimal(18, 2)) as store_credit_value_eur,
        cast(
            cast(units_returned as double) / nullif(units_sold, 0) as double
        ) as return_rate_units,
        cast(
            cast(refunded_eur as double) / nullif(cast(gross_revenue_eur as double), 0)
            as double
        ) as return_rate_value,
        cast(
            cast(orders_with_return as double) / nullif(orders, 0) as double
        ) as return_rate_orders,
        cast(
            cast(exchange_value_eur + store_credit_value_eur as double)
            / nullif(cast(returned_value_eur as double), 0) as double
        ) as revenue_retained_rate,
        cast(nps_responses as bigint) as nps_responses,
        cast(promoters as bigint) as promoters,
        cast(detractors as bigint) as detractors,
        cast(
            100.0 * (promoters - detractors) / nullif(nps_responses, 0) as double
        ) as nps,
        cast(cast(rating_total as double) / nullif(ratings, 0) as double) as avg_rating,
        cast(period_start_date as date) as period_start_date,
        cast({{ period_end_date('period_grain', 'period_start_date') }} as date)
            as period_end_date
    from days_rolled_up_to_periods

)

select * from final
