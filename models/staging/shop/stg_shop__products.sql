with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select

        ---------- ids
        sku,
        product_id,
        supplier_id,

        ---------- strings
        product_name,
        category,
        subcategory,
        size,
        colour,

        ---------- numerics
        list_price_eur,
        unit_cost_eur,
        weight_g,

        ---------- booleans
        coalesce(
            list_price_eur >= {{ var('premium_price_threshold_eur') }}, false
        ) as is_premium

    from source

)

select * from renamed
