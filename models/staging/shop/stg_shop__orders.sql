with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select

        ---------- ids
        order_id,
        {{ hash_customer_id('customer_id') }} as customer_key,
        session_id,

        ---------- strings
        channel,
        shipping_country as shipping_country_code,
        coalesce(currency, '{{ var("reporting_currency") }}') as currency_code,

        ---------- numerics
        order_total_eur,

        ---------- booleans
        shipped_at is not null as is_shipped,
        delivered_at is not null as is_delivered,

        ---------- dates
        cast(ordered_at as date) as ordered_date,
        cast(delivered_at as date) as delivered_date,

        ---------- timestamps
        ordered_at,
        shipped_at,
        delivered_at

    from source

)

select * from renamed
