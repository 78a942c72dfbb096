{#
    Rolling-origin (out-of-sample) backtest of the demand forecasts on past weeks whose returns
    are complete (week start + 14 + return_window_days days <= the data's as-of date): per
    product group (category / subcategory, and 'all') and week W, the gross forecast and the
    return-aware forecast against actual net sales (units sold - units returned of the week's
    orders), with the WAPE of each over all backtest weeks of the group. The return-aware
    forecast of W applies the return rates as they could be estimated before W
    (int_return_rates_estimated_before_weeks: mature order lines and returns requested before
    W), not the rates of sig_return_aware_forecasts, which use all history. Weeks before the
    first with any such history are left out (there was nothing to estimate from).
#}
with

forecasts as (

    select * from {{ ref('sig_return_aware_forecasts') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where product_id is not null

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

rates_before_weeks as (

    select * from {{ ref('int_return_rates_estimated_before_weeks') }}

),

weeks_with_history as (

    select week_start_date from rates_before_weeks
    group by 1

),

actuals as (

    select
        category,
        subcategory,
        {{ week_start_date('ordered_date') }} as week_start_date,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from order_lines
    group by 1, 2, 3

),

forecasts_with_rates as (

    select
        forecasts.category,
        forecasts.subcategory,
        forecasts.week_start_date,
        forecasts.gross_demand_units,
        forecasts.gross_demand_units * (1 - coalesce(rates.expected_return_rate, 0))
            as return_aware_demand_units,
        rates.latest_ordered_date,
        rates.latest_return_requested_date
    from forecasts
    inner join weeks_with_history
        on forecasts.week_start_date = weeks_with_history.week_start_date
    left join rates_before_weeks as rates
        on
            forecasts.week_start_date = rates.week_start_date
            and forecasts.category = rates.category
            and forecasts.subcategory = rates.subcategory
            and forecasts.supplier_id = rates.supplier_id

),

forecast_groups as (

    select
        category,
        subcategory,
        week_start_date,
        -- summed as decimals (to 1e-18 of a unit, below a double's precision), which add up
        -- exactly in any order: the same data gives the same figures on every run
        sum(cast(gross_demand_units as decimal(38, 18))) as gross_forecast_units,
        sum(cast(return_aware_demand_units as decimal(38, 18))) as return_aware_forecast_units,
        max(latest_ordered_date) as rates_latest_ordered_date,
        max(latest_return_requested_date) as rates_latest_return_requested_date
    from forecasts_with_rates
    group by 1, 2, 3

),

group_weeks as (

    select
        forecast_groups.category,
        forecast_groups.subcategory,
        forecast_groups.week_start_date,
        forecast_groups.gross_forecast_units,
        forecast_groups.return_aware_forecast_units,
        forecast_groups.rates_latest_ordered_date,
        forecast_groups.rates_latest_return_requested_date,
        coalesce(actuals.units_sold, 0) as units_sold,
        coalesce(actuals.units_returned, 0) as units_returned
    from forecast_groups
    cross join warehouse_as_of
    left join actuals
        on
            forecast_groups.category = actuals.category
            and forecast_groups.subcategory = actuals.subcategory
            and forecast_groups.week_start_date = actuals.week_start_date
    where
        {{ dbt.dateadd(
            'day', 14 + var('return_window_days'), 'forecast_groups.week_start_date'
        ) }} <= warehouse_as_of.as_of_date

),

groups_and_total as (

    select
        category || '/' || subcategory as product_group,
        category,
        subcategory,
        week_start_date,
        gross_forecast_units,
        return_aware_forecast_units,
        rates_latest_ordered_date,
        rates_latest_return_requested_date,
        units_sold,
        units_returned
    from group_weeks

    union all

    select
        'all' as product_group,
        'all' as category,
        'all' as subcategory,
        week_start_date,
        sum(gross_forecast_units) as gross_forecast_units,
        sum(return_aware_forecast_units) as return_aware_forecast_units,
        max(rates_latest_ordered_date) as rates_latest_ordered_date,
        max(rates_latest_return_requested_date) as rates_latest_return_requested_date,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned
    from group_weeks
    group by 1, 2, 3, 4

),

errors as (

    select
        *,
        units_sold - units_returned as actual_net_units,
        abs(gross_forecast_units - (units_sold - units_returned)) as gross_abs_error,
        abs(return_aware_forecast_units - (units_sold - units_returned))
            as return_aware_abs_error
    from groups_and_total

),

final as (

    select
        cast(product_group as string) as product_group,
        cast(category as string) as category,
        cast(subcategory as string) as subcategory,
        cast(week_start_date as date) as week_start_date,
        cast(gross_forecast_units as double) as gross_forecast_units,
        cast(return_aware_forecast_units as double) as return_aware_forecast_units,
        cast(rates_latest_ordered_date as date) as rates_latest_ordered_date,
        cast(rates_latest_return_requested_date as date) as rates_latest_return_requested_date,
        cast(units_sold as bigint) as units_sold,
        cast(units_returned as bigint) as units_returned,
        cast(actual_net_units as bigint) as actual_net_units,
        cast(gross_abs_error as double) as gross_abs_error,
        cast(return_aware_abs_error as double) as return_aware_abs_error,
        cast(
            sum(gross_abs_error) over (partition by product_group)
            / nullif(sum(actual_net_units) over (partition by product_group), 0) as double
        ) as gross_wape,
        cast(
            sum(return_aware_abs_error) over (partition by product_group)
            / nullif(sum(actual_net_units) over (partition by product_group), 0) as double
        ) as return_aware_wape
    from errors

)

select * from final
