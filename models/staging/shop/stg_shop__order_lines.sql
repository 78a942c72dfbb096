with

source as (

    select * from {{ source('shop', 'order_lines') }}

),

renamed as (

    select

        ---------- ids
        order_line_id,
        order_id,
        sku,
        batch_id,

        ---------- numerics
        line_number,
        quantity,
        unit_price_eur,
        discount_eur,
        cast(
            quantity * unit_price_eur - discount_eur as decimal(18, 2)
        ) as line_amount_eur

    from source

)

select * from renamed
