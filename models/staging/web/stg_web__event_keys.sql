{#
    The web events' keys counted: one row per customer id of raw.web_events (sku null) with
    its pseudonymous key and number of events, and one row per sku (customer_key null) with
    its number of events; events without a customer id or a sku are a row with both null.
    Read by rpt_referential_integrity, whose orphan counts are sums of these counts: the same
    figures as counting stg_web__events row by row.

    An aggregation in staging (issue 16): the key is a salted hash, and hashing is the cost
    of a scan of stg_web__events (57M events at 10M order lines: 4.5 s of CPU of the
    report's 7.5 s for them); counted per customer id first, 1.3M ids are hashed instead.
    Each key column is read once. Customers only as customer_key, as in stg_web__events.
#}
with

source as (

    select * from {{ source('web', 'web_events') }}

),

customers_counted as (

    select
        customer_id,
        count(*) as events
    from source
    group by 1

),

skus_counted as (

    select
        sku,
        count(*) as events
    from source
    group by 1

),

keys_counted as (

    select
        {{ hash_customer_id('customer_id') }} as customer_key,
        cast(null as {{ dbt.type_string() }}) as sku,
        cast(events as bigint) as events
    from customers_counted

    union all

    select
        cast(null as {{ dbt.type_string() }}) as customer_key,
        sku,
        cast(events as bigint) as events
    from skus_counted

)

select * from keys_counted
