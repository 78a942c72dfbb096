{#
    Return rates of order cohorts (by order date) per period grain and slice, with NPS of
    the cohort's orders beside them. Additive counts are taken per order and slice, summed
    to days, then rolled up to weeks and months; rates are computed last.
#}
with

nps_responses as (

    select * from {{ ref('fct_nps_responses') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

grains as (

    {{ period_grains() }}

),

{# each slice reads the table, not an order_lines CTE: DuckDB materialises a CTE read more
   than once, here all 10M order lines (34 s and a spill at 10M, against four column scans) #}
order_lines_aggregated_to_order_slices as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            ordered_date,
            order_id,
            sum(quantity) as units_sold,
            sum(returned_quantity) as units_returned,
            sum(line_amount_eur) as gross_revenue_eur,
            sum(refunded_eur) as refunded_eur,
            max(case when has_return then 1 else 0 end) as has_return
        from {{ ref('fct_order_lines') }}
        group by 1, 2, 3, 4
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

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

order_slices_aggregated_to_days as (

    select
        order_slices.slice_type,
        order_slices.slice_value,
        order_slices.ordered_date,
        count(*) as orders,
        sum(order_slices.has_return) as orders_with_return,
        sum(order_slices.units_sold) as units_sold,
        sum(order_slices.units_returned) as units_returned,
        sum(order_slices.gross_revenue_eur) as gross_revenue_eur,
        sum(order_slices.refunded_eur) as refunded_eur,
        sum(coalesce(nps.nps_responses, 0)) as nps_responses,
        sum(coalesce(nps.promoters, 0)) as promoters,
        sum(coalesce(nps.detractors, 0)) as detractors,
        sum(coalesce(nps.ratings, 0)) as ratings,
        sum(coalesce(nps.rating_total, 0)) as rating_total
    from order_lines_aggregated_to_order_slices as order_slices
    left join nps_responses_aggregated_to_orders as nps
        on order_slices.order_id = nps.order_id
    group by 1, 2, 3

),

days_rolled_up_to_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'daily.ordered_date') }} as period_start_date,
        daily.slice_type,
        daily.slice_value,
        sum(daily.orders) as orders,
        sum(daily.orders_with_return) as orders_with_return,
        sum(daily.units_sold) as units_sold,
        sum(daily.units_returned) as units_returned,
        sum(daily.gross_revenue_eur) as gross_revenue_eur,
        sum(daily.refunded_eur) as refunded_eur,
        sum(daily.nps_responses) as nps_responses,
        sum(daily.promoters) as promoters,
        sum(daily.detractors) as detractors,
        sum(daily.ratings) as ratings,
        sum(daily.rating_total) as rating_total
    from order_slices_aggregated_to_days as daily
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
        cast(periods.slice_type as string) as slice_type,
        cast(periods.slice_value as string) as slice_value,
        cast(periods.orders as bigint) as orders,
        cast(periods.orders_with_return as bigint) as orders_with_return,
        cast(periods.units_sold as bigint) as units_sold,
        cast(periods.units_returned as bigint) as units_returned,
        cast(periods.gross_revenue_eur as decimal(18, 2)) as gross_revenue_eur,
        cast(periods.refunded_eur as decimal(18, 2)) as refunded_eur,
        cast(
            cast(periods.units_returned as double) / nullif(periods.units_sold, 0) as double
        ) as return_rate_units,
        cast(
            cast(periods.refunded_eur as double)
            / nullif(cast(periods.gross_revenue_eur as double), 0) as double
        ) as return_rate_value,
        cast(
            cast(periods.orders_with_return as double) / nullif(periods.orders, 0) as double
        ) as return_rate_orders,
        cast(periods.nps_responses as bigint) as nps_responses,
        cast(periods.promoters as bigint) as promoters,
        cast(periods.detractors as bigint) as detractors,
        cast(
            100.0 * (periods.promoters - periods.detractors)
            / nullif(periods.nps_responses, 0) as double
        ) as nps,
        cast(
            cast(periods.rating_total as double) / nullif(periods.ratings, 0) as double
        ) as avg_rating,
        {# the cohort's last order day + 1 + 7 days delivery slack + the return window #}
        coalesce(
            cast(
                {{ dbt.dateadd(
                    'day', 8 + var('return_window_days'), 'periods.period_end_date'
                ) }} as date
            ) <= warehouse_as_of.as_of_date,
            false
        ) as is_cohort_mature,
        cast(periods.period_start_date as date) as period_start_date,
        cast(periods.period_end_date as date) as period_end_date
    from periods_with_end_dates as periods
    cross join warehouse_as_of

)

select * from final
