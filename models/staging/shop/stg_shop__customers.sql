{#
    No PII leaves raw: names, e-mail, phone and address are dropped, the id is hashed.

    A table, not a view: the customer hash (sha256 per row) is computed once per run here
    instead of on every scan of the models and tests reading this model. It holds the
    pseudonymous key only, no personal data (docs/security.md).
#}
{{ config(materialized='table') }}

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
