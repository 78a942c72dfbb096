{#
    Backtest of the demand forecasts on past weeks whose returns are complete (week end +
    8 days + return_window_days <= the data's as-of date): per product group (category /
    subcategory, and 'all') and week, the gross forecast and the return-aware forecast
    (sig_return_aware_forecasts) against actual net sales (units sold - units returned of
    the week's orders), with the WAPE of each over all backtest weeks of the group.
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

forecast_groups as (

    select
        category,
        subcategory,
        week_start_date,
        -- summed as decimals (to 1e-18 of a unit, below a double's precision), which add up
        -- exactly in any order: the same data gives the same figures on every run
        sum(cast(gross_demand_units as decimal(38, 18))) as gross_forecast_units,
        sum(cast(net_demand_units as decimal(38, 18))) as return_aware_forecast_units
    from forecasts
    group by 1, 2, 3

),

group_weeks as (

    select
        forecast_groups.category,
        forecast_groups.subcategory,
        forecast_groups.week_start_date,
        forecast_groups.gross_forecast_units,
        forecast_groups.return_aware_forecast_units,
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
