{#
    One row per supplier of the supplier export, plus one per supplier id that products or
    batches refer to but the export lacks (its row was quarantined, or not delivered yet):
    kept with has_supplier_record false and no name, country or lead time, so its products,
    batches and quality signals keep their supplier.
#}
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

referenced_supplier_ids as (

    select supplier_id from products
    union
    select supplier_id from batches

),

suppliers_with_inferred as (

    select
        supplier_id,
        supplier_name,
        country_code,
        lead_time_days,
        true as has_supplier_record
    from suppliers

    union all

    select
        referenced.supplier_id,
        cast(null as {{ dbt.type_string() }}) as supplier_name,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as bigint) as lead_time_days,
        false as has_supplier_record
    from referenced_supplier_ids as referenced
    left join suppliers
        on referenced.supplier_id = suppliers.supplier_id
    where suppliers.supplier_id is null and referenced.supplier_id is not null

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
        cast(coalesce(batches.units_received, 0) as bigint) as units_received,
        suppliers.has_supplier_record
    from suppliers_with_inferred as suppliers
    left join products_aggregated_to_suppliers as products
        on suppliers.supplier_id = products.supplier_id
    left join batches_aggregated_to_suppliers as batches
        on suppliers.supplier_id = batches.supplier_id

)

select * from final
