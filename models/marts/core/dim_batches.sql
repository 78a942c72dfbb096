with

batches as (

    select * from {{ ref('stg_purchasing__production_batches') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

products_aggregated_to_styles as (

    select
        product_id,
        min(product_name) as product_name,
        min(category) as category,
        min(subcategory) as subcategory
    from products
    group by 1

),

order_lines_aggregated_to_batches as (

    select
        batch_id,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from order_lines
    where batch_id is not null
    group by 1

),

final as (

    select
        cast(batches.batch_id as string) as batch_id,
        cast(batches.product_id as string) as product_id,
        cast(batches.supplier_id as string) as supplier_id,
        cast(styles.product_name as string) as product_name,
        cast(styles.category as string) as category,
        cast(styles.subcategory as string) as subcategory,
        cast(batches.units_received as bigint) as units_received,
        cast(coalesce(sales.units_sold, 0) as bigint) as units_sold,
        cast(coalesce(sales.units_returned, 0) as bigint) as units_returned,
        cast(batches.received_date as date) as received_date
    from batches
    left join products_aggregated_to_styles as styles
        on batches.product_id = styles.product_id
    left join order_lines_aggregated_to_batches as sales
        on batches.batch_id = sales.batch_id

)

select * from final
