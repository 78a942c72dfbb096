{#
    Amounts converted into the reporting currency with the exchange rate of the line's order
    (stg_exchange_rates__order_rates), each rounded half-up to the cent, and the line amount
    computed from the converted ones; the delivered amounts are kept (*_original). Lines of an
    order without a rate are held back with it (rpt_currency_conversions blocks the publish);
    a line whose order is not in the export is taken in the reporting currency (counted in
    rpt_referential_integrity).
#}
{% set reporting_currency = "'" ~ var("reporting_currency") ~ "'" %}

with

source as (

    select * from {{ source('shop', 'order_lines') }}

),

order_rates as (

    select * from {{ ref('stg_exchange_rates__order_rates') }}

),

converted as (

    select
        source.*,
        coalesce(order_rates.currency_code, {{ reporting_currency }}) as currency_code,
        coalesce(order_rates.exchange_rate, 1) as exchange_rate,
        {{ convert_to_reporting_currency(
            'source.unit_price_eur', 'coalesce(order_rates.exchange_rate, 1)'
        ) }} as unit_price_converted,
        {{ convert_to_reporting_currency(
            'source.discount_eur', 'coalesce(order_rates.exchange_rate, 1)'
        ) }} as discount_converted
    from source
    left join order_rates on source.order_id = order_rates.order_id
    where not coalesce(order_rates.is_missing_exchange_rate, false)

),

renamed as (

    select

        ---------- ids
        order_line_id,
        order_id,
        sku,
        batch_id,

        ---------- strings
        currency_code,

        ---------- numerics
        line_number,
        quantity,
        unit_price_converted as unit_price_eur,
        discount_converted as discount_eur,
        cast(
            quantity * unit_price_converted - discount_converted as decimal(18, 2)
        ) as line_amount_eur,
        unit_price_eur as unit_price_original,
        discount_eur as discount_original,
        cast(
            quantity * unit_price_eur - discount_eur as decimal(18, 2)
        ) as line_amount_original,
        cast(exchange_rate as decimal(18, 12)) as exchange_rate

    from converted

)

select * from renamed
