with

suppliers as (

    select * from {{ ref('stg_purchasing__suppliers') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

batches as (

    select * from {{ ref('stg_purchasing__production_batches') }}

),

products_aggregated_to_suppliers as (

    select
        supplier_id,
        count(distinct product_id) as products,
        count(*) as skus
    from products
    group by 1

),

batches_aggregated_to_suppliers as (

    select
        supplier_id,
        count(*) as batches,
        sum(units_received) as units_received
    from batches
    group by 1

),

final as (

    select
        cast(suppliers.supplier_id as string) as supplier_id,
        cast(suppliers.supplier_name as string) as supplier_name,
        cast(suppliers.country_code as string) as country_code,
        cast(suppliers.lead_time_days as bigint) as lead_time_days,
        cast(coalesce(products.products, 0) as bigint) as products,
        cast(coalesce(products.skus, 0) as bigint) as skus,
        cast(coalesce(batches.batches, 0) as bigint) as batches,
        cast(coalesce(batches.units_received, 0) as bigint) as units_received
    from suppliers
    left join products_aggregated_to_suppliers as products
        on suppliers.supplier_id = products.supplier_id
    left join batches_aggregated_to_suppliers as batches
        on suppliers.supplier_id = batches.supplier_id

)

select * from final
