{#
    The exchange rate of every order (raw.orders), the one place its amounts' conversion is
    decided: an order in the reporting currency (or with no currency) has rate 1; an order in
    another currency takes the latest rate of its currency (raw.exchange_rates) on or before
    its order date (UTC), at most var exchange_rate_max_age_days days old (weekends and
    holidays have no ECB rate). An order without one is_missing_exchange_rate: the staging
    models hold it back, with its lines and returns, and rpt_currency_conversions blocks the
    publish naming its file, currency and dates. Joins two sources, as staging may when a
    value cannot be typed without them (the amounts of stg_shop__orders, stg_shop__order_lines
    and stg_returns__return_lines).
#}
{% set reporting_currency = "'" ~ var("reporting_currency") ~ "'" %}

with

orders as (

    select
        order_id,
        coalesce(currency, {{ reporting_currency }}) as currency_code,
        cast(ordered_at as date) as ordered_date,
        _source_file as source_file
    from {{ source('shop', 'orders') }}

),

rates as (

    select
        rate_date,
        currency,
        reporting_currency_per_unit
    from {{ source('exchange_rates', 'exchange_rates') }}

),

rates_in_reach as (

    select
        orders.order_id,
        rates.rate_date,
        rates.reporting_currency_per_unit,
        row_number() over (
            partition by orders.order_id order by rates.rate_date desc
        ) as recency_rank
    from orders
    inner join rates
        on
            orders.currency_code = rates.currency
            and orders.ordered_date >= rates.rate_date
            and cast(
                {{ dbt.dateadd('day', -var('exchange_rate_max_age_days'), 'orders.ordered_date') }}
                as date
            ) <= rates.rate_date
    where orders.currency_code <> {{ reporting_currency }}

),

final as (

    select

        ---------- ids
        orders.order_id,

        ---------- strings
        orders.currency_code,
        orders.source_file,

        ---------- numerics
        case
            when orders.currency_code = {{ reporting_currency }}
                then cast(1 as decimal(18, 12))
            else cast(rates_in_reach.reporting_currency_per_unit as decimal(18, 12))
        end as exchange_rate,

        ---------- booleans
        orders.currency_code <> {{ reporting_currency }} as is_converted,
        orders.currency_code <> {{ reporting_currency }}
        and rates_in_reach.order_id is null as is_missing_exchange_rate,

        ---------- dates
        orders.ordered_date,
        case
            when orders.currency_code = {{ reporting_currency }} then orders.ordered_date
            else rates_in_reach.rate_date
        end as exchange_rate_date

    from orders
    left join rates_in_reach
        on
            orders.order_id = rates_in_reach.order_id
            and rates_in_reach.recency_rank = 1

)

select * from final
