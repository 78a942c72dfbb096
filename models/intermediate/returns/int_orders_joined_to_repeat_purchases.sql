{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed('order_id', 'order_id', 'customer_key', ref('fct_order_lines')) }}",
            "{{ delete_as_of_crossings('is_90d_window_closed', 'ordered_at', 90, 'as_of_at') }}",
            "{{ delete_as_of_crossings('is_180d_window_closed', 'ordered_at', 180, 'as_of_at') }}",
            "{{ delete_refund_speed_crossings('first_return_refund_speed', ref('fct_returns')) }}",
        ],
    )
}}
{#
    One row per order (an order id of fct_order_lines): its customer, revenue, whether and
    how it was returned (the order's first return line: outcome, reason, refund speed), and
    what the same customer ordered after it: orders placed more than 0 and at most 90 or
    180 days (of 24 hours) after its order timestamp, and their revenue. A self-join of the
    orders on the customer key within 180 days: portable, and bounded by the window.

    Incremental (append, portable; docs/plans/incremental-facts.md): an order's row follows
    from its own rows (lines, returns), from its customer's other orders, from the as-of
    moment (the windows closed) and from whether any return carries a refund timestamp. So an
    incremental build deletes every order of each customer the change log lists an order of,
    before (this table) or now (fct_order_lines), since a changed, new or moved order changes
    the counts of the customer's earlier orders (pre-hook delete_changed by customer_key); the
    rows whose 90- or 180-day window the as-of moment opened or closed (delete_as_of_crossings
    on as_of_at); and, when the first refund timestamp arrives or the last goes, the rows whose
    refund speed says otherwise (delete_refund_speed_crossings). Then it appends every order
    of fct_order_lines it no longer holds, computed from all orders of those orders' customers
    only. A first build, `--full-refresh` or a changed definition builds it fully.
#}
-- depends_on: {{ ref('stg_loader__changed_orders') }}
with

{%- if is_incremental() %}

{# the orders this table does not hold (after the pre-hooks' deletes): an anti-join on the
   key only; every order of their customers is read, as the later orders of each #}
orders_to_build as (

    select distinct
        order_lines.order_id,
        order_lines.customer_key
    from {{ ref('fct_order_lines') }} as order_lines
    left join {{ this }} as built
        on order_lines.order_id = built.order_id
    where built.order_id is null

),
{%- endif %}

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    {%- if is_incremental() %}
    where customer_key in (select customer_key from orders_to_build)
    {%- endif %}

),

return_lines as (

    select * from {{ ref('fct_returns') }}

),

reason_taxonomy as (

    select * from {{ ref('reason_taxonomy') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

orders as (

    select
        order_id,
        customer_key,
        min(ordered_at) as ordered_at,
        min(ordered_date) as ordered_date,
        sum(line_amount_eur) as gross_revenue_eur,
        max(case when has_return then 1 else 0 end) as has_return
    from order_lines
    group by 1, 2

),

later_orders_aggregated_to_orders as (

    select
        orders.order_id,
        sum(
            case
                when
                    later_orders.ordered_at
                    <= {{ dbt.dateadd('day', 90, 'orders.ordered_at') }}
                    then 1
                else 0
            end
        ) as next_90d_orders,
        count(*) as next_180d_orders,
        sum(later_orders.gross_revenue_eur) as next_180d_revenue_eur
    from orders
    inner join orders as later_orders
        on
            orders.customer_key = later_orders.customer_key
            and orders.ordered_at < later_orders.ordered_at
            and {{ dbt.dateadd('day', 180, 'orders.ordered_at') }} >= later_orders.ordered_at
    group by 1

),

refund_timestamps_delivered as (

    select count(*) > 0 as has_refund_timestamps
    from {{ ref('fct_returns') }}
    where refunded_at is not null

),

{# the order of a return line is the order of its order line (returns of unknown lines: none).
   This and refund_timestamps_delivered read the tables, not the order_lines and return_lines
   CTEs: DuckDB materialises a CTE read more than once (all 10M order lines at 10M) #}
return_lines_ranked_per_order as (

    select
        order_lines.order_id,
        {{ return_outcome('return_lines.return_state', 'return_lines.resolution') }} as outcome,
        return_lines.reason,
        case
            when not refund_timestamps_delivered.has_refund_timestamps then 'unknown'
            when return_lines.refunded_at is null then 'no_refund'
            when return_lines.is_slow_refund then 'slow'
            else 'fast'
        end as refund_speed,
        row_number() over (
            partition by order_lines.order_id
            order by return_lines.requested_at, return_lines.rma_id, return_lines.order_line_id
        ) as return_number
    from return_lines
    inner join {{ ref('fct_order_lines') }} as order_lines
        on return_lines.order_line_id = order_lines.order_line_id
    cross join refund_timestamps_delivered
    {%- if is_incremental() %}
    where order_lines.order_id in (select order_id from orders_to_build)
    {%- endif %}

),

first_returns as (

    select
        first_return.order_id,
        first_return.outcome,
        first_return.reason,
        coalesce(reason_taxonomy.reason_group, 'unknown') as reason_group,
        first_return.refund_speed
    from return_lines_ranked_per_order as first_return
    left join reason_taxonomy
        on first_return.reason = reason_taxonomy.reason
    where first_return.return_number = 1

),

final as (

    select
        cast(orders.order_id as string) as order_id,
        cast(orders.customer_key as string) as customer_key,
        cast(orders.gross_revenue_eur as decimal(18, 2)) as gross_revenue_eur,
        orders.has_return = 1 as has_return,
        cast(coalesce(first_returns.outcome, 'no_return') as string) as first_return_outcome,
        cast(coalesce(first_returns.reason, 'no_return') as string) as first_return_reason,
        cast(coalesce(first_returns.reason_group, 'no_return') as string)
            as first_return_reason_group,
        cast(coalesce(first_returns.refund_speed, 'no_return') as string)
            as first_return_refund_speed,
        cast(coalesce(later_orders.next_90d_orders, 0) as bigint) as next_90d_orders,
        cast(coalesce(later_orders.next_180d_orders, 0) as bigint) as next_180d_orders,
        cast(coalesce(later_orders.next_180d_revenue_eur, 0) as decimal(18, 2))
            as next_180d_revenue_eur,
        coalesce(later_orders.next_90d_orders, 0) > 0 as has_repeat_purchase_90d,
        coalesce(later_orders.next_180d_orders, 0) > 0 as has_repeat_purchase_180d,
        coalesce(
            {{ dbt.dateadd('day', 90, 'orders.ordered_at') }} <= warehouse_as_of.as_of_at, false
        ) as is_90d_window_closed,
        coalesce(
            {{ dbt.dateadd('day', 180, 'orders.ordered_at') }} <= warehouse_as_of.as_of_at, false
        ) as is_180d_window_closed,
        cast(orders.ordered_date as date) as ordered_date,
        cast(orders.ordered_at as timestamp) as ordered_at
    from orders
    left join later_orders_aggregated_to_orders as later_orders
        on orders.order_id = later_orders.order_id
    left join first_returns
        on orders.order_id = first_returns.order_id
    cross join warehouse_as_of
    {%- if is_incremental() %}
    where orders.order_id in (select order_id from orders_to_build)
    {%- endif %}

)

select * from final
