{#
    Order-week cohorts per category: what was sold in the week (by order date) and what of
    it came back so far, with NPS of those orders. A cohort is mature once its return
    window has closed by the data's as-of date; younger cohorts still gain returns.
#}
with

order_lines as (

    select * from {{ ref('int_order_lines_joined_to_returns') }}

),

nps_responses as (

    select * from {{ ref('stg_surveys__nps_responses') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

order_lines_aggregated_to_order_categories as (

    select
        order_week_start_date as week_start_date,
        category,
        order_id,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned,
        sum(line_amount_eur) as gross_revenue_eur,
        sum(refunded_eur) as refunded_eur,
        max(case when has_return then 1 else 0 end) as has_return
    from order_lines
    group by 1, 2, 3

),

nps_responses_aggregated_to_orders as (

    select
        order_id,
        count(*) as nps_responses,
        sum(case when is_promoter then 1 else 0 end) as promoters,
        sum(case when is_detractor then 1 else 0 end) as detractors,
        count(rating) as ratings,
        sum(rating) as rating_total
    from nps_responses
    where order_id is not null
    group by 1

),

order_categories_aggregated_to_weeks as (

    select
        order_categories.week_start_date,
        order_categories.category,
        count(*) as orders,
        sum(order_categories.has_return) as orders_with_return,
        sum(order_categories.units_sold) as units_sold,
        sum(order_categories.units_returned) as units_returned,
        sum(order_categories.gross_revenue_eur) as gross_revenue_eur,
        sum(order_categories.refunded_eur) as refunded_eur,
        sum(coalesce(nps.nps_responses, 0)) as nps_responses,
        sum(coalesce(nps.promoters, 0)) as promoters,
        sum(coalesce(nps.detractors, 0)) as detractors,
        sum(coalesce(nps.ratings, 0)) as ratings,
        sum(nps.rating_total) as rating_total
    from order_lines_aggregated_to_order_categories as order_categories
    left join nps_responses_aggregated_to_orders as nps
        on order_categories.order_id = nps.order_id
    group by 1, 2

),

final as (

    select
        cast(weeks.week_start_date as date) as week_start_date,
        cast(weeks.category as string) as category,
        cast(weeks.orders as bigint) as orders,
        cast(weeks.orders_with_return as bigint) as orders_with_return,
        cast(weeks.units_sold as bigint) as units_sold,
        cast(weeks.units_returned as bigint) as units_returned,
        cast(weeks.gross_revenue_eur as decimal(18, 2)) as gross_revenue_eur,
        cast(weeks.refunded_eur as decimal(18, 2)) as refunded_eur,
        cast(
            cast(weeks.units_returned as double) / nullif(weeks.units_sold, 0) as double
        ) as return_rate_units,
        cast(
            cast(weeks.refunded_eur as double)
            / nullif(cast(weeks.gross_revenue_eur as double), 0) as double
        ) as return_rate_value,
        cast(
            cast(weeks.orders_with_return as double) / nullif(weeks.orders, 0) as double
        ) as return_rate_orders,
        coalesce(
            cast(
                {{ dbt.dateadd(
                    'day',
                    14 + var('return_window_days'),
                    'weeks.week_start_date'
                ) }} as date
            ) <= warehouse_as_of.as_of_date,
            false
        ) as is_cohort_mature,
        cast(weeks.nps_responses as bigint) as nps_responses,
        cast(weeks.promoters as bigint) as promoters,
        cast(weeks.detractors as bigint) as detractors,
        cast(
            100.0 * (weeks.promoters - weeks.detractors)
            / nullif(weeks.nps_responses, 0) as double
        ) as nps,
        cast(
            cast(weeks.rating_total as double) / nullif(weeks.ratings, 0) as double
        ) as avg_rating
    from order_categories_aggregated_to_weeks as weeks
    cross join warehouse_as_of

)

select * from final
