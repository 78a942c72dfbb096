with

source as (

    select * from {{ source('web', 'web_events') }}

),

renamed as (

    select

        ---------- ids
        event_id,
        session_id,
        {{ hash_customer_id('customer_id') }} as customer_key,
        sku,

        ---------- strings
        event_type,
        device,
        traffic_source,

        ---------- booleans
        customer_id is not null as is_identified,

        ---------- dates
        cast(event_at as date) as event_date,

        ---------- timestamps
        event_at

    from source

)

select * from renamed
