{# No PII leaves raw: names, e-mail, phone and address are dropped, the id is hashed. #}
with

source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select

        ---------- ids
        {{ hash_customer_id('customer_id') }} as customer_key,

        ---------- strings
        country_code,

        ---------- dates
        cast(created_at as date) as created_date,

        ---------- timestamps
        created_at

    from source

)

select * from renamed
