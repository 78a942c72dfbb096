with

source as (

    select * from {{ source('purchasing', 'suppliers') }}

),

renamed as (

    select

        ---------- ids
        supplier_id,

        ---------- strings
        supplier_name,
        country_code,

        ---------- numerics
        lead_time_days

    from source

)

select * from renamed
