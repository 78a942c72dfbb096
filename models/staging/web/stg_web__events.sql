{#
    A table, not a view (issue 16; DESIGN.md's staging views overridden for this hot model):
    the salted customer hash (sha256 per event) is computed once per run here instead of on
    every scan by the journeys, rpt_referential_integrity and the data tests (at 10M order
    lines 6-8 s per scan with the hash, under 1 s without). It holds the pseudonymous key
    only, no customer id and no free text (docs/security.md); the next run rebuilds it from
    raw, so a re-delivered file or a forgotten customer is reflected exactly as in a view.
#}
{{ config(materialized='table') }}

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
