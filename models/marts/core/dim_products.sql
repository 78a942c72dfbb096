with

products as (

    select * from {{ ref('stg_shop__products') }}

),

suppliers as (

    select * from {{ ref('stg_purchasing__suppliers') }}

),

category_attributes as (

    select * from {{ ref('category_attributes') }}

),

final as (

    select
        cast(products.sku as string) as sku,
        cast(products.product_id as string) as product_id,
        cast(products.supplier_id as string) as supplier_id,
        cast(products.product_name as string) as product_name,
        cast(products.category as string) as category,
        cast(products.subcategory as string) as subcategory,
        cast(products.size as string) as size,
        cast(products.colour as string) as colour,
        cast(suppliers.supplier_name as string) as supplier_name,
        cast(products.list_price_eur as decimal(18, 2)) as list_price_eur,
        cast(products.unit_cost_eur as decimal(18, 2)) as unit_cost_eur,
        cast(products.weight_g as bigint) as weight_g,
        products.is_premium,
        coalesce(category_attributes.is_fragile, false) as is_fragile,
        coalesce(category_attributes.is_seasonal, false) as is_seasonal,
        category_attributes.subcategory is not null as has_category_attributes
    from products
    left join suppliers
        on products.supplier_id = suppliers.supplier_id
    left join category_attributes
        on products.subcategory = category_attributes.subcategory

)

select * from final
