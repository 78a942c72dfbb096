{#
    Return behaviour per customer with orders, the inputs of the risk score of
    sig_customer_return_risk: order lines bought and returned, returns (RMAs), inspected return
    lines and those graded worn or empty box, and how soon after delivery each return was
    requested (an RMA's days from the delivery of its order to its earliest request).
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

return_lines as (

    select * from {{ ref('fct_returns') }}
    where customer_key is not null

),

orders_delivered as (

    select
        order_id,
        max(delivered_at) as delivered_at
    from order_lines
    group by 1

),

lines_per_customer as (

    select
        customer_key,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(line_amount_eur) as value_bought_eur,
        sum(returned_value_eur) as value_returned_eur
    from order_lines
    group by 1

),

returns_per_customer as (

    select
        customer_key,
        count(distinct rma_id) as rmas,
        sum(case when condition_grade is not null then 1 else 0 end) as inspected_return_lines,
        sum(case when condition_grade in ('worn', 'empty_box') then 1 else 0 end)
            as worn_or_empty_return_lines
    from return_lines
    group by 1

),

rma_speeds as (

    select
        return_lines.customer_key,
        return_lines.rma_id,
        min(
            {{ dbt.datediff(
                'orders_delivered.delivered_at', 'return_lines.requested_at', 'second'
            ) }}
        ) / 86400.0 as days_delivery_to_request
    from return_lines
    inner join orders_delivered
        on return_lines.order_id = orders_delivered.order_id
    where orders_delivered.delivered_at is not null
    group by 1, 2

),

speeds_per_customer as (

    select
        customer_key,
        count(*) as rmas_with_delivery,
        sum(
            case
                when days_delivery_to_request <= {{ signal_var('risk_fast_return_days') }}
                    then 1
                else 0
            end
        ) as fast_rmas,
        {{ percentile('days_delivery_to_request', 0.5) }} as median_days_delivery_to_request
    from rma_speeds
    group by 1

),

customers as (

    select
        customer_lines.customer_key,
        customer_lines.order_lines,
        customer_lines.returned_lines,
        customer_lines.value_bought_eur,
        customer_lines.value_returned_eur,
        coalesce(customer_returns.rmas, 0) as rmas,
        coalesce(customer_returns.inspected_return_lines, 0) as inspected_return_lines,
        coalesce(customer_returns.worn_or_empty_return_lines, 0) as worn_or_empty_return_lines,
        coalesce(speeds.rmas_with_delivery, 0) as rmas_with_delivery,
        coalesce(speeds.fast_rmas, 0) as fast_rmas,
        speeds.median_days_delivery_to_request
    from lines_per_customer as customer_lines
    left join returns_per_customer as customer_returns
        on customer_lines.customer_key = customer_returns.customer_key
    left join speeds_per_customer as speeds
        on customer_lines.customer_key = speeds.customer_key

)

select * from customers
