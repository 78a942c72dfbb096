{#
    The most costly customers: per customer (salted hash) with orders in the last 365 days
    to the as-of date, their sales and gross margin, and what their returns of those orders
    cost (int_return_lines_costed, booked on the order date like kpi_return_costs), ranked by
    the cost of returns. Returns of orders before the window, and of unknown orders (no
    customer), are not counted. The risk flag of sig_customer_return_risk stands beside it.
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

return_lines as (

    select * from {{ ref('int_return_lines_costed') }}

),

customer_risk as (

    select * from {{ ref('sig_customer_return_risk') }}

),

warehouse_as_of as (

    select
        as_of_date,
        {{ dbt.dateadd('day', -364, 'as_of_date') }} as window_start_date
    from {{ ref('int_warehouse_as_of') }}

),

sales as (

    select
        order_lines.customer_key,
        count(*) as order_lines,
        sum(order_lines.quantity) as units_sold,
        sum(order_lines.line_amount_eur) as gross_revenue_eur,
        sum(
            cast(
                coalesce(products.unit_cost_eur, 0) * order_lines.quantity as decimal(18, 2)
            )
        ) as cost_of_goods_sold_eur
    from order_lines
    cross join warehouse_as_of
    left join products
        on order_lines.sku = products.sku
    where
        order_lines.customer_key is not null
        and order_lines.ordered_date between warehouse_as_of.window_start_date
        and warehouse_as_of.as_of_date
    group by 1

),

returns as (

    select
        return_lines.customer_key,
        count(*) as return_lines,
        sum(return_lines.returned_quantity) as units_returned,
        sum(return_lines.returned_value_eur) as returned_value_eur,
        sum(return_lines.cost_of_return_eur) as cost_of_returns_eur,
        sum(return_lines.margin_lost_eur) as margin_lost_to_returns_eur
    from return_lines
    cross join warehouse_as_of
    where
        return_lines.customer_key is not null
        and return_lines.attributed_date between warehouse_as_of.window_start_date
        and warehouse_as_of.as_of_date
    group by 1

),

customers as (

    select
        sales.customer_key,
        sales.order_lines,
        sales.units_sold,
        sales.gross_revenue_eur,
        sales.cost_of_goods_sold_eur,
        coalesce(returns.return_lines, 0) as return_lines,
        coalesce(returns.units_returned, 0) as units_returned,
        coalesce(returns.returned_value_eur, 0) as returned_value_eur,
        coalesce(returns.cost_of_returns_eur, 0) as cost_of_returns_eur,
        coalesce(returns.margin_lost_to_returns_eur, 0) as margin_lost_to_returns_eur
    from sales
    left join returns
        on sales.customer_key = returns.customer_key

),

final as (

    select
        cast(customers.customer_key as string) as customer_key,
        cast(warehouse_as_of.window_start_date as date) as window_start_date,
        cast(warehouse_as_of.as_of_date as date) as window_end_date,
        cast(customers.order_lines as bigint) as order_lines,
        cast(customers.units_sold as bigint) as units_sold,
        cast(customers.gross_revenue_eur as decimal(18, 2)) as gross_revenue_eur,
        cast(
            customers.gross_revenue_eur - customers.cost_of_goods_sold_eur as decimal(18, 2)
        ) as gross_margin_eur,
        cast(customers.return_lines as bigint) as return_lines,
        cast(customers.units_returned as bigint) as units_returned,
        cast(customers.returned_value_eur as decimal(18, 2)) as returned_value_eur,
        cast(customers.cost_of_returns_eur as decimal(18, 2)) as cost_of_returns_eur,
        cast(customers.margin_lost_to_returns_eur as decimal(18, 2))
            as margin_lost_to_returns_eur,
        cast(
            customers.gross_revenue_eur - customers.cost_of_goods_sold_eur
            - customers.margin_lost_to_returns_eur as decimal(18, 2)
        ) as net_margin_after_returns_eur,
        cast(
            row_number() over (
                order by customers.cost_of_returns_eur desc, customers.customer_key asc
            ) as bigint
        ) as cost_rank,
        coalesce(customer_risk.is_risky, false) as is_risky_customer,
        cast(customer_risk.risk_score as bigint) as risk_score
    from customers
    cross join warehouse_as_of
    left join customer_risk
        on customers.customer_key = customer_risk.customer_key

)

select * from final
