{#
    Currency conversion, one row per currency the shop's orders are in: how many orders were
    converted into the reporting currency and how many could not be, because no exchange rate
    of their currency lies on or up to var exchange_rate_max_age_days days before their order
    date (stg_exchange_rates__order_rates). Such orders are held back from every mart with
    their order lines and returns (never summed unconverted, never left out unnoticed): the
    GX suite rpt_currency_conversions fails the run with this mart's message, which names the
    currency, the order dates, an orders file and what to do. Shown on Data health.
#}
{%- set max_age = var('exchange_rate_max_age_days') -%}
{%- set rates_delivered = dbt.concat([
    "'rates delivered from '", "cast(rates.first_rate_date as string)", "' to '",
    "cast(rates.last_rate_date as string)",
]) -%}
with

order_rates as (

    select * from {{ ref('stg_exchange_rates__order_rates') }}

),

order_lines as (

    select order_id from {{ source('shop', 'order_lines') }}

),

rates as (

    select
        currency,
        min(rate_date) as first_rate_date,
        max(rate_date) as last_rate_date
    from {{ source('exchange_rates', 'exchange_rates') }}
    group by 1

),

lines_per_order as (

    select
        order_id,
        count(*) as order_lines
    from order_lines
    group by 1

),

currencies as (

    select
        order_rates.currency_code,
        count(*) as orders,
        sum(
            case
                when order_rates.is_converted and not order_rates.is_missing_exchange_rate
                    then 1
                else 0
            end
        ) as converted_orders,
        sum(
            case when order_rates.is_missing_exchange_rate then 1 else 0 end
        ) as orders_without_rate,
        sum(
            case
                when order_rates.is_missing_exchange_rate
                    then coalesce(lines_per_order.order_lines, 0)
                else 0
            end
        ) as order_lines_held_back,
        min(case when order_rates.is_missing_exchange_rate then order_rates.ordered_date end)
            as first_date_without_rate,
        max(case when order_rates.is_missing_exchange_rate then order_rates.ordered_date end)
            as last_date_without_rate,
        min(case when order_rates.is_missing_exchange_rate then order_rates.source_file end)
            as example_source_file,
        max(case when order_rates.is_converted then 1 else 0 end) = 1 as is_converted
    from order_rates
    left join lines_per_order on order_rates.order_id = lines_per_order.order_id
    group by 1

),

final as (

    select
        cast(currencies.currency_code as string) as currency_code,
        not currencies.is_converted as is_reporting_currency,
        cast(currencies.orders as bigint) as orders,
        cast(currencies.converted_orders as bigint) as converted_orders,
        cast(currencies.orders_without_rate as bigint) as orders_without_rate,
        cast(currencies.order_lines_held_back as bigint) as order_lines_held_back,
        cast({{ max_age }} as bigint) as max_rate_age_days,
        cast(currencies.first_date_without_rate as date) as first_date_without_rate,
        cast(currencies.last_date_without_rate as date) as last_date_without_rate,
        cast(rates.first_rate_date as date) as first_rate_date,
        cast(rates.last_rate_date as date) as last_rate_date,
        cast(currencies.example_source_file as string) as example_source_file,
        cast(
            case when currencies.orders_without_rate > 0 then 'missing_rates' else 'ok' end
            as string
        ) as status,
        cast(
            case
                when currencies.orders_without_rate > 0
                    then {{ dbt.concat([
                        "cast(currencies.orders_without_rate as string)",
                        "' orders in '", "currencies.currency_code", "' dated '",
                        "cast(currencies.first_date_without_rate as string)", "' to '",
                        "cast(currencies.last_date_without_rate as string)", "' (e.g. in '",
                        "currencies.example_source_file",
                        "') have no exchange rate on or up to " ~ max_age
                        ~ " days before their order date ('",
                        "case when rates.currency is null then 'no rate of it was delivered' "
                        ~ "else " ~ rates_delivered ~ " end",
                        "'): add its rates for those days to exchange_rates/exchange_rates*.csv "
                        ~ "in the landing folder (docs/contracts/exchange_rates.md), or raise "
                        ~ "dbt var exchange_rate_max_age_days; until then these orders, their '",
                        "cast(currencies.order_lines_held_back as string)",
                        "' order lines and their returns are held back from every mart'",
                    ]) }}
                when currencies.is_converted
                    then {{ dbt.concat([
                        "cast(currencies.converted_orders as string)", "' orders in '",
                        "currencies.currency_code",
                        "' converted into the reporting currency'",
                    ]) }}
                else {{ dbt.concat([
                    "cast(currencies.orders as string)",
                    "' orders in the reporting currency '", "currencies.currency_code",
                    "' (no conversion)'",
                ]) }}
            end as string
        ) as message
    from currencies
    left join rates on currencies.currency_code = rates.currency

)

select * from final
