{#
    Rolling-origin return rates for the forecast backtest: for every forecast week W, the
    expected return rate of each product group (category, subcategory, supplier) as it could
    have been estimated at the start of W, from data available before W only:
      - order lines whose return window had closed by the day before W, by the cohort-maturity
        rule of fct_order_lines.is_return_window_closed with the as-of date W - 1 day
        (ordered_date + 8 + return_window_days days < W);
      - of their returns, those requested before W (a return requested later was not known).
    Same formulas and fallbacks as int_return_rates_estimated_for_planning (keep the two in
    step): group rate shrunk toward the subcategory with forecast_prior_units, season index of
    the category in W's calendar month shrunk toward the category with
    forecast_season_prior_units, expected rate = group rate x season index capped at 0.95; a
    group without such history has no row (its forecast keeps a rate of 0, as in
    sig_return_aware_forecasts). latest_ordered_date / latest_return_requested_date are the
    latest dates among all the lines and returns the rate rests on (its category's history
    before W), so a test can show that nothing from W or later was used.
#}
with

forecasts as (

    select * from {{ ref('sig_return_aware_forecasts') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where product_id is not null

),

return_lines as (

    select * from {{ ref('fct_returns') }}

),

origins as (

    select distinct
        week_start_date,
        cast(extract(month from week_start_date) as bigint) as calendar_month
    from forecasts

),

sold_days as (

    select
        category,
        subcategory,
        supplier_id,
        ordered_date,
        cast(extract(month from ordered_date) as bigint) as order_month,
        sum(quantity) as units_sold
    from order_lines
    group by 1, 2, 3, 4, 5

),

returned_days as (

    select
        order_lines.category,
        order_lines.subcategory,
        order_lines.supplier_id,
        order_lines.ordered_date,
        cast(extract(month from order_lines.ordered_date) as bigint) as order_month,
        return_lines.requested_date,
        sum(return_lines.returned_quantity) as units_returned
    from return_lines
    inner join order_lines
        on return_lines.order_line_id = order_lines.order_line_id
    group by 1, 2, 3, 4, 5, 6

),

sold_before_origins as (

    select
        origins.week_start_date,
        sold_days.category,
        sold_days.subcategory,
        sold_days.supplier_id,
        sum(sold_days.units_sold) as units_sold,
        sum(
            case
                when sold_days.order_month = origins.calendar_month then sold_days.units_sold
                else 0
            end
        ) as units_sold_in_month,
        max(sold_days.ordered_date) as latest_ordered_date
    from origins
    inner join sold_days
        on
            origins.week_start_date > {{ dbt.dateadd(
                'day', 8 + var('return_window_days'), 'sold_days.ordered_date'
            ) }}
    group by 1, 2, 3, 4

),

returned_before_origins as (

    select
        origins.week_start_date,
        returned_days.category,
        returned_days.subcategory,
        returned_days.supplier_id,
        sum(returned_days.units_returned) as units_returned,
        sum(
            case
                when returned_days.order_month = origins.calendar_month
                    then returned_days.units_returned
                else 0
            end
        ) as units_returned_in_month,
        max(returned_days.requested_date) as latest_return_requested_date
    from origins
    inner join returned_days
        on
            origins.week_start_date > {{ dbt.dateadd(
                'day', 8 + var('return_window_days'), 'returned_days.ordered_date'
            ) }}
            and origins.week_start_date > returned_days.requested_date
    group by 1, 2, 3, 4

),

groups as (

    select
        sold.week_start_date,
        sold.category,
        sold.subcategory,
        sold.supplier_id,
        sold.units_sold,
        coalesce(returned.units_returned, 0) as units_returned,
        sold.units_sold_in_month,
        coalesce(returned.units_returned_in_month, 0) as units_returned_in_month,
        sold.latest_ordered_date,
        returned.latest_return_requested_date
    from sold_before_origins as sold
    left join returned_before_origins as returned
        on
            sold.week_start_date = returned.week_start_date
            and sold.category = returned.category
            and sold.subcategory = returned.subcategory
            and sold.supplier_id = returned.supplier_id

),

subcategories as (

    select
        week_start_date,
        category,
        subcategory,
        cast(sum(units_returned) as double) / nullif(sum(units_sold), 0) as return_rate
    from groups
    group by 1, 2, 3

),

categories as (

    select
        week_start_date,
        category,
        cast(sum(units_returned) as double) / nullif(sum(units_sold), 0) as return_rate,
        sum(units_sold_in_month) as units_sold_in_month,
        sum(units_returned_in_month) as units_returned_in_month,
        max(latest_ordered_date) as latest_ordered_date,
        max(latest_return_requested_date) as latest_return_requested_date
    from groups
    group by 1, 2

),

season_indexes as (

    select
        week_start_date,
        category,
        latest_ordered_date,
        latest_return_requested_date,
        case
            when return_rate > 0
                then (
                    units_returned_in_month
                    + {{ signal_var('forecast_season_prior_units') }} * return_rate
                ) / (
                    units_sold_in_month + {{ signal_var('forecast_season_prior_units') }}
                ) / return_rate
            else 1.0
        end as season_index
    from categories

),

rates as (

    select
        groups.week_start_date,
        groups.category,
        groups.subcategory,
        groups.supplier_id,
        groups.units_sold as history_units_sold,
        groups.units_returned as history_units_returned,
        subcategories.return_rate as subcategory_return_rate,
        (
            groups.units_returned
            + {{ signal_var('forecast_prior_units') }} * coalesce(subcategories.return_rate, 0)
        ) / (groups.units_sold + {{ signal_var('forecast_prior_units') }}) as group_return_rate,
        season_indexes.season_index,
        season_indexes.latest_ordered_date,
        season_indexes.latest_return_requested_date
    from groups
    left join subcategories
        on
            groups.week_start_date = subcategories.week_start_date
            and groups.category = subcategories.category
            and groups.subcategory = subcategories.subcategory
    inner join season_indexes
        on
            groups.week_start_date = season_indexes.week_start_date
            and groups.category = season_indexes.category

),

final as (

    select
        cast(week_start_date as date) as week_start_date,
        cast(category as string) as category,
        cast(subcategory as string) as subcategory,
        cast(supplier_id as string) as supplier_id,
        cast(history_units_sold as bigint) as history_units_sold,
        cast(history_units_returned as bigint) as history_units_returned,
        cast(subcategory_return_rate as double) as subcategory_return_rate,
        cast(group_return_rate as double) as group_return_rate,
        cast(season_index as double) as season_index,
        cast(
            least(coalesce(group_return_rate * season_index, 0), 0.95) as double
        ) as expected_return_rate,
        cast(latest_ordered_date as date) as latest_ordered_date,
        cast(latest_return_requested_date as date) as latest_return_requested_date
    from rates

)

select * from final
