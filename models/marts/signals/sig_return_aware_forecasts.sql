{#
    The latest demand forecast per sku and week, made return-aware: expected returned units
    (gross x expected return rate of the sku's product group in the week's month), the
    restockable units coming back and when, and the net demand that stays sold.
#}
with

forecasts as (

    select * from {{ ref('stg_planning__demand_forecasts') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

rates as (

    select * from {{ ref('int_return_rates_estimated_for_planning') }}

),

latest_forecasts as (

    select
        *,
        row_number() over (
            partition by sku, week_start_date
            order by created_date desc, forecast_version desc
        ) as version_recency
    from forecasts

),

forecasts_with_rates as (

    select
        latest.sku,
        latest.week_start_date,
        latest.forecast_version,
        latest.created_date,
        products.product_id,
        products.category,
        products.subcategory,
        products.supplier_id,
        latest.gross_demand_units,
        rates.group_return_rate,
        coalesce(rates.season_index, 1.0) as season_index,
        least(
            coalesce(rates.group_return_rate * rates.season_index, 0), 0.95
        ) as expected_return_rate,
        coalesce(rates.restock_share, 0) as restock_share,
        rates.return_lag_days,
        coalesce(rates.history_units_sold, 0) as history_units_sold
    from latest_forecasts as latest
    left join products
        on latest.sku = products.sku
    left join rates
        on
            products.category = rates.category
            and products.subcategory = rates.subcategory
            and products.supplier_id = rates.supplier_id
            and cast(extract(month from latest.week_start_date) as bigint) = rates.calendar_month
    where latest.version_recency = 1

),

final as (

    select
        cast(sku as string) as sku,
        cast(week_start_date as date) as week_start_date,
        cast(forecast_version as string) as forecast_version,
        cast(created_date as date) as forecast_created_date,
        cast(product_id as string) as product_id,
        cast(category as string) as category,
        cast(subcategory as string) as subcategory,
        cast(supplier_id as string) as supplier_id,
        cast(gross_demand_units as double) as gross_demand_units,
        cast(group_return_rate as double) as group_return_rate,
        cast(season_index as double) as season_index,
        cast(expected_return_rate as double) as expected_return_rate,
        cast(gross_demand_units * expected_return_rate as double) as expected_returned_units,
        cast(restock_share as double) as restock_share,
        cast(gross_demand_units * expected_return_rate * restock_share as double)
            as expected_restockable_units,
        cast(return_lag_days as double) as return_lag_days,
        {# unknown lag (no received_at delivered): no restock week rather than a guess #}
        {{ week_start_date(dbt.dateadd(
            'day', 'cast(return_lag_days as int)', 'week_start_date'
        )) }} as restock_week_start_date,
        cast(gross_demand_units * (1 - expected_return_rate) as double) as net_demand_units,
        cast(
            gross_demand_units * (1 - expected_return_rate * restock_share) as double
        ) as net_replenishment_units,
        cast(history_units_sold as bigint) as history_units_sold
    from forecasts_with_rates

)

select * from final
