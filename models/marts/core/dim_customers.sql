{#
    No personal data: customers are known by their salted hash only. One row per customer
    of the customer export, plus one per customer key that orders or survey answers refer to
    but the export lacks (its row was quarantined, or not delivered yet): such a customer is
    kept, with has_customer_record false and no country or creation date, so facts about it
    are not lost and every customer_key of the marts is in this dimension.
#}
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

nps_responses as (

    select * from {{ ref('stg_surveys__nps_responses') }}

),

referenced_customer_keys as (

    select customer_key from orders
    union
    select customer_key from nps_responses

),

customers_with_inferred as (

    select
        customer_key,
        country_code,
        created_date,
        true as has_customer_record
    from customers

    union all

    select
        referenced.customer_key,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as date) as created_date,
        false as has_customer_record
    from referenced_customer_keys as referenced
    left join customers
        on referenced.customer_key = customers.customer_key
    where customers.customer_key is null and referenced.customer_key is not null

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

return_lines as (

    select * from {{ ref('fct_returns') }}

),

{# lines summed per order first, then orders per customer: the distinct count of orders is
   the count of those groups (count ignores a null order id, as count(distinct) does). DuckDB
   plans count(distinct ...) beside other aggregates as a separate grouping whose input (all
   10M order lines at 10M) it materialises and joins back; sums are over bigint and decimals,
   so summing in two steps gives the same values #}
order_lines_aggregated_to_orders as (

    select
        customer_key,
        order_id,
        count(*) as order_lines,
        sum(quantity) as units_bought,
        sum(line_amount_eur) as gross_revenue_eur,
        min(ordered_date) as first_order_date,
        max(ordered_date) as last_order_date
    from order_lines
    group by 1, 2

),

order_lines_aggregated_to_customers as (

    select
        customer_key,
        count(order_id) as orders,
        sum(order_lines) as order_lines,
        sum(units_bought) as units_bought,
        sum(gross_revenue_eur) as gross_revenue_eur,
        min(first_order_date) as first_order_date,
        max(last_order_date) as last_order_date
    from order_lines_aggregated_to_orders
    group by 1

),

{# per RMA first, then per customer, for the same reason #}
return_lines_aggregated_to_rmas as (

    select
        customer_key,
        rma_id,
        count(*) as return_lines,
        sum(returned_quantity) as units_returned,
        sum(coalesce(refund_amount_eur, 0)) as refunded_eur,
        min(requested_at) as first_return_requested_at
    from return_lines
    where customer_key is not null
    group by 1, 2

),

returns_aggregated_to_customers as (

    select
        customer_key,
        count(rma_id) as rmas,
        sum(return_lines) as return_lines,
        sum(units_returned) as units_returned,
        sum(refunded_eur) as refunded_eur,
        min(first_return_requested_at) as first_return_requested_at
    from return_lines_aggregated_to_rmas
    group by 1

),

final as (

    select
        cast(customers.customer_key as string) as customer_key,
        cast(customers.country_code as string) as country_code,
        cast(coalesce(customer_orders.orders, 0) as bigint) as orders,
        cast(coalesce(customer_orders.order_lines, 0) as bigint) as order_lines,
        cast(coalesce(customer_orders.units_bought, 0) as bigint) as units_bought,
        cast(coalesce(customer_returns.rmas, 0) as bigint) as rmas,
        cast(coalesce(customer_returns.return_lines, 0) as bigint) as return_lines,
        cast(coalesce(customer_returns.units_returned, 0) as bigint) as units_returned,
        cast(
            coalesce(customer_orders.gross_revenue_eur, 0) as decimal(18, 2)
        ) as gross_revenue_eur,
        cast(coalesce(customer_returns.refunded_eur, 0) as decimal(18, 2)) as refunded_eur,
        customer_returns.customer_key is not null as has_returned,
        customers.has_customer_record,
        cast(customers.created_date as date) as created_date,
        cast(customer_orders.first_order_date as date) as first_order_date,
        cast(customer_orders.last_order_date as date) as last_order_date,
        cast(
            customer_returns.first_return_requested_at as timestamp
        ) as first_return_requested_at
    from customers_with_inferred as customers
    left join order_lines_aggregated_to_customers as customer_orders
        on customers.customer_key = customer_orders.customer_key
    left join returns_aggregated_to_customers as customer_returns
        on customers.customer_key = customer_returns.customer_key

)

select * from final
