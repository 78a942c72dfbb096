{#
    Return expectations per product group for demand planning, from order lines whose
    return window has closed (so their returns are complete):
      - group_return_rate: returned units / units sold per category, subcategory and
        supplier, shrunk toward the subcategory (empirical Bayes, prior weight
        forecast_prior_units units): (returned + k * subcategory rate) / (sold + k);
      - season_index by category and calendar month of the order: the month's rate (shrunk
        toward the category's with forecast_season_prior_units) / the category's rate;
      - restock_share: returned units with disposition 'restock' / inspected returned units,
        per subcategory; return_lag_days: median days from order to the return's receipt,
        per category.
    One row per (category, subcategory, supplier_id, calendar_month).
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_return_window_closed and product_id is not null

),

return_lines as (

    select * from {{ ref('fct_returns') }}
    where has_known_order_line

),

groups as (

    select
        category,
        subcategory,
        supplier_id,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from order_lines
    group by 1, 2, 3

),

subcategories as (

    select
        category,
        subcategory,
        cast(sum(returned_quantity) as double) / nullif(sum(quantity), 0) as return_rate
    from order_lines
    group by 1, 2

),

categories as (

    select
        category,
        cast(sum(returned_quantity) as double) / nullif(sum(quantity), 0) as return_rate
    from order_lines
    group by 1

),

category_months as (

    select
        category,
        cast(extract(month from ordered_date) as bigint) as calendar_month,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from order_lines
    group by 1, 2

),

calendar_months as (

    select distinct cast(extract(month from ordered_date) as bigint) as calendar_month
    from {{ ref('fct_order_lines') }}

),

season_indexes as (

    select
        categories.category,
        calendar_months.calendar_month,
        case
            when categories.return_rate > 0
                then (
                    coalesce(category_months.units_returned, 0)
                    + {{ signal_var('forecast_season_prior_units') }} * categories.return_rate
                ) / (
                    coalesce(category_months.units_sold, 0)
                    + {{ signal_var('forecast_season_prior_units') }}
                ) / categories.return_rate
            else 1.0
        end as season_index
    from categories
    cross join calendar_months
    left join category_months
        on
            categories.category = category_months.category
            and calendar_months.calendar_month = category_months.calendar_month

),

restock_shares as (

    select
        category,
        subcategory,
        cast(sum(case when disposition = 'restock' then returned_quantity else 0 end) as double)
        / nullif(sum(returned_quantity), 0) as restock_share
    from return_lines
    where disposition is not null
    group by 1, 2

),

return_lags as (

    select
        category,
        {{ percentile(dbt.datediff('ordered_date', 'received_at', 'day'), 0.5) }}
            as return_lag_days
    from return_lines
    where received_at is not null
    group by 1

),

final as (

    select
        groups.category,
        groups.subcategory,
        groups.supplier_id,
        season_indexes.calendar_month,
        groups.units_sold as history_units_sold,
        groups.units_returned as history_units_returned,
        subcategories.return_rate as subcategory_return_rate,
        (
            groups.units_returned
            + {{ signal_var('forecast_prior_units') }} * coalesce(subcategories.return_rate, 0)
        ) / (groups.units_sold + {{ signal_var('forecast_prior_units') }}) as group_return_rate,
        season_indexes.season_index,
        coalesce(restock_shares.restock_share, 0) as restock_share,
        return_lags.return_lag_days
    from groups
    left join subcategories
        on
            groups.category = subcategories.category
            and groups.subcategory = subcategories.subcategory
    inner join season_indexes
        on groups.category = season_indexes.category
    left join restock_shares
        on
            groups.category = restock_shares.category
            and groups.subcategory = restock_shares.subcategory
    left join return_lags
        on groups.category = return_lags.category

)

select * from final
