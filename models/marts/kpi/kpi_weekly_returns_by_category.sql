{#
    The compact weekly view of order-cohort return KPIs per category, as the run summary and
    simple BI tiles read it: the week x category slice of kpi_return_rates_by_order_cohort,
    so both marts always agree (one place computes the rates, maturity and NPS).
#}
with

cohorts as (

    select * from {{ ref('kpi_return_rates_by_order_cohort') }}

),

final as (

    select
        period_start_date as week_start_date,
        slice_value as category,
        orders,
        orders_with_return,
        units_sold,
        units_returned,
        gross_revenue_eur,
        refunded_eur,
        return_rate_units,
        return_rate_value,
        return_rate_orders,
        is_cohort_mature,
        nps_responses,
        promoters,
        detractors,
        nps,
        avg_rating
    from cohorts
    where period_grain = 'week' and slice_type = 'category'

)

select * from final
