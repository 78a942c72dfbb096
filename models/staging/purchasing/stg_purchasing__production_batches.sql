with

source as (

    select * from {{ source('purchasing', 'production_batches') }}

),

renamed as (

    select

        ---------- ids
        batch_id,
        product_id,
        supplier_id,

        ---------- numerics
        units_received,

        ---------- dates
        received_date

    from source

)

select * from renamed
