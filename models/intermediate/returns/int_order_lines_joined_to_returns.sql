{#
    One row per order line that belongs to a known order, with the order's and the
    product's attributes, the order week and what came back of it: returns summed per
    order line. Returns whose order line is not (yet) in the shop export are not in this
    model. The one place where order lines meet orders and products. Lines whose customer,
    product or batch is not in its export (quarantined or not delivered) are kept and
    flagged: has_known_customer, has_known_product, has_known_batch.
#}
{#
    A table (issue 16): read by fct_order_lines, fct_returns, rpt_referential_integrity and
    their tests; as a view each rebuilt the join of every order line with orders, products
    and returns. No free text, customers only as customer_key.

    Incremental (append, portable; docs/plans/incremental-facts.md increment 3): a line's row
    follows from its order's rows and from what the change log (stg_loader__changed_orders)
    lists the orders of when it changes (customers, batches, products, exchange rates,
    returns matched or moved, retracted rows, erasures); nothing in it changes with the as-of
    date. An incremental build deletes the rows of the listed orders (pre-hook
    delete_changed) and appends the listed orders' lines; a first build, `--full-refresh` or
    a changed definition builds it fully, and so does a build by hand (`dbt build`) without
    a read recorded by the pipeline (delete_changed empties it, the body appends every line).
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_changed('order_id', 'order_id') }}",
    )
}}
-- depends_on: {{ ref('stg_loader__changed_orders') }}
with

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}
    {%- if is_incremental() and change_log_read_recorded() %}
    {# the listed orders' lines, whose rows the pre-hook deleted: a filter on the order,
       not an anti-join of every line with this table, which computed the view (exchange
       rates, conversions) for all lines at every run (19.8 s at 10M order lines, issue 16).
       Built by hand without a recorded read, the pre-hook emptied the table and every line
       is appended (macro delete_changed) #}
    where order_id in ({{ changed_orders('order_id') }})
    {%- endif %}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

batches as (

    select * from {{ ref('stg_purchasing__production_batches') }}

),

return_lines as (

    {# the stored return lines (every line of stg_returns__return_lines): a scan of that
       view masks the free text of every return line, also for the few orders an
       incremental build reads (issue 16) #}
    select * from {{ ref('int_return_lines_mapped_to_reasons') }}
    {%- if is_incremental() %}
    where order_line_id in (select order_line_id from order_lines)
    {%- endif %}

),

returns_aggregated_to_order_lines as (

    select
        order_line_id,
        count(*) as return_lines,
        sum(returned_quantity) as returned_quantity,
        sum(coalesce(refund_amount_eur, 0)) as refunded_eur,
        min(requested_at) as first_return_requested_at
    from return_lines
    group by 1

),

order_lines_joined_to_returns as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.sku,
        order_lines.batch_id,
        orders.customer_key,
        products.product_id,
        coalesce(products.supplier_id, 'unknown') as supplier_id,
        coalesce(products.category, 'unknown') as category,
        products.subcategory,
        orders.channel,
        orders.shipping_country_code,
        cast(order_lines.quantity as bigint) as quantity,
        order_lines.unit_price_eur,
        order_lines.discount_eur,
        cast(order_lines.line_amount_eur as decimal(18, 2)) as line_amount_eur,
        order_lines.currency_code,
        order_lines.exchange_rate,
        order_lines.unit_price_original,
        order_lines.discount_original,
        order_lines.line_amount_original,
        {# units at the product's unit cost, to the cent; 0 when the sku is unknown #}
        cast(
            coalesce(products.unit_cost_eur, 0) * order_lines.quantity as decimal(18, 2)
        ) as cost_of_goods_sold_eur,
        cast(coalesce(returns_aggregated_to_order_lines.return_lines, 0) as bigint) as return_lines,
        cast(
            coalesce(returns_aggregated_to_order_lines.returned_quantity, 0) as bigint
        ) as returned_quantity,
        cast(
            coalesce(returns_aggregated_to_order_lines.refunded_eur, 0) as decimal(18, 2)
        ) as refunded_eur,
        returns_aggregated_to_order_lines.order_line_id is not null as has_return,
        customers.customer_key is not null as has_known_customer,
        products.sku is not null as has_known_product,
        batches.batch_id is not null as has_known_batch,
        {{ week_start_date('orders.ordered_at') }} as order_week_start_date,
        orders.ordered_date,
        orders.delivered_date,
        orders.ordered_at,
        orders.delivered_at,
        returns_aggregated_to_order_lines.first_return_requested_at
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join products
        on order_lines.sku = products.sku
    left join customers
        on orders.customer_key = customers.customer_key
    left join batches
        on order_lines.batch_id = batches.batch_id
    left join returns_aggregated_to_order_lines
        on order_lines.order_line_id = returns_aggregated_to_order_lines.order_line_id

)

select * from order_lines_joined_to_returns
