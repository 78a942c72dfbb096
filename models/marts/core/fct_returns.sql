{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed('order_id', 'order_id') }}",
            "{{ delete_as_of_age_crossings(
                'is_stale',
                'requested_at',
                var('return_window_days') + var('open_return_slack_days'),
                {
                    'return_state': ['open', 'stale'],
                    'return_state_rule': ['timestamps', 'stale'],
                }
            ) }}",
        ],
    )
}}
{#
    One row per returned order line of a return (RMA), with its standard reason, every
    processing timestamp, step durations, its state (open, closed, cancelled, rejected or
    stale, from the portal's status, else the timestamps and age; see
    int_return_lines_mapped_to_states) and the order it came from. Returns whose order
    line is not (yet) in the shop export stay in, flagged by has_known_order_line.

    Incremental (append, portable; docs/plans/incremental-facts.md increment 3): a return's
    row follows from its order's rows (the return, its order and order line) and from what the
    change log (stg_loader__changed_orders) lists the orders of when it changes (customers,
    products of the returned sku, exchange rates, returns matched or moved to another order,
    retracted rows, erasures), plus the as-of moment: a return without a status the seed knows
    and without a closing timestamp is open while requested at most return_window_days +
    open_return_slack_days before it, else stale. So an incremental build deletes the rows of
    the orders the log lists since this model's last build (pre-hook delete_changed) and the
    rows whose is_stale the as-of moment changed, among the returns whose state the request's
    age decides (open or stale by the timestamps rule; pre-hook delete_as_of_age_crossings),
    then appends every return line of int_return_lines_mapped_to_states it no longer holds (an
    anti-join on rma_id and order_line_id): those, and any row missing for another reason. A
    first build, `--full-refresh` or a changed definition builds it fully.

    Built after the change log, which reads the previous build of this model (its rma_id ->
    order_id and customer_key -> order_id pairs) to find the orders that leave it: so every
    run that builds this model builds the log first, the returns_alerts job included.
#}
-- depends_on: {{ ref('stg_loader__changed_orders') }}
{# read by the pre-hook delete_as_of_age_crossings (dbt records no ref() in a hook) #}
-- depends_on: {{ ref('int_warehouse_as_of') }}
with

return_lines as (

    select states.*
    from {{ ref('int_return_lines_mapped_to_states') }} as states
    {%- if is_incremental() %}
    {# the return lines this table does not hold (after the pre-hooks' deletes): an anti-join
       on the key only #}
    left join {{ this }} as built
        on
            states.rma_id = built.rma_id
            and states.order_line_id = built.order_line_id
    where built.rma_id is null
    {%- endif %}

),

order_lines as (

    select * from {{ ref('int_order_lines_joined_to_returns') }}
    {%- if is_incremental() %}
    where order_line_id in (select order_line_id from return_lines)
    {%- endif %}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {%- if is_incremental() %}
    where order_id in (select order_id from return_lines)
    {%- endif %}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

return_lines_joined_to_orders as (

    select
        return_lines.rma_id,
        return_lines.order_line_id,
        return_lines.order_id,
        return_lines.sku,
        orders.customer_key,
        products.product_id,
        coalesce(products.category, 'unknown') as category,
        products.subcategory,
        coalesce(products.supplier_id, 'unknown') as supplier_id,
        coalesce(orders.channel, 'unknown') as channel,
        return_lines.reason_code_normalised as reason_code,
        {# a text whose writer is unknown (no known order) had no name masked: not published #}
        case
            when return_lines.is_writer_known then return_lines.reason_text_normalised
        end as reason_text_normalised,
        return_lines.reason,
        return_lines.reason_source,
        return_lines.condition_grade,
        return_lines.disposition,
        return_lines.resolution,
        return_lines.source_status,
        return_lines.return_state,
        return_lines.return_state_rule,
        return_lines.is_open,
        return_lines.open_step,
        return_lines.returned_quantity,
        return_lines.refund_amount_eur,
        return_lines.refund_amount_original,
        return_lines.currency_code,
        return_lines.exchange_rate,
        {#- net value of the returned units: their share of the line after discount, half up
            to the cent, in whole cents (a division of decimals is a double in DuckDB: 61.11 / 2
            = 30.555 would round to 30.55); floor((2n + q) / 2q) is n / q rounded half up -#}
        cast(
            floor(
                (
                    2 * return_lines.returned_quantity
                    * cast(order_lines.line_amount_eur * 100 as bigint)
                    + order_lines.quantity
                )
                / (2.0 * nullif(order_lines.quantity, 0))
            ) / 100.0 as decimal(18, 2)
        ) as returned_value_eur,
        order_lines.order_line_id is not null as has_known_order_line,
        return_lines.is_refunded,
        return_lines.requested_at,
        return_lines.received_at,
        return_lines.inspected_at,
        return_lines.refunded_at,
        order_lines.ordered_date
    from return_lines
    left join order_lines
        on return_lines.order_line_id = order_lines.order_line_id
    left join orders
        on return_lines.order_id = orders.order_id
    left join products
        on return_lines.sku = products.sku

),

final as (

    select
        cast(rma_id as string) as rma_id,
        cast(order_line_id as string) as order_line_id,
        cast(order_id as string) as order_id,
        cast(sku as string) as sku,
        cast(customer_key as string) as customer_key,
        cast(product_id as string) as product_id,
        cast(category as string) as category,
        cast(subcategory as string) as subcategory,
        cast(supplier_id as string) as supplier_id,
        cast(channel as string) as channel,
        cast(reason_code as string) as reason_code,
        cast(reason_text_normalised as string) as reason_text_normalised,
        cast(reason as string) as reason,
        cast(reason_source as string) as reason_source,
        cast(condition_grade as string) as condition_grade,
        cast(disposition as string) as disposition,
        cast(resolution as string) as resolution,
        cast(source_status as string) as source_status,
        cast(return_state as string) as return_state,
        cast(return_state_rule as string) as return_state_rule,
        cast(open_step as string) as open_step,
        cast(returned_quantity as bigint) as returned_quantity,
        cast(refund_amount_eur as decimal(18, 2)) as refund_amount_eur,
        cast(currency_code as string) as currency_code,
        cast(exchange_rate as decimal(18, 12)) as exchange_rate,
        cast(refund_amount_original as decimal(18, 2)) as refund_amount_original,
        cast(returned_value_eur as decimal(18, 2)) as returned_value_eur,
        cast(
            {{ dbt.datediff('requested_at', 'received_at', 'second') }}
            / 3600.0 as double
        ) as hours_requested_to_received,
        cast(
            {{ dbt.datediff('received_at', 'inspected_at', 'second') }}
            / 3600.0 as double
        ) as hours_received_to_inspected,
        cast(
            {{ dbt.datediff('inspected_at', 'refunded_at', 'second') }}
            / 3600.0 as double
        ) as hours_inspected_to_refunded,
        cast(
            {{ dbt.datediff('requested_at', 'refunded_at', 'second') }}
            / 3600.0 as double
        ) as hours_requested_to_refunded,
        cast(
            {{ dbt.datediff('requested_at', 'refunded_at', 'second') }}
            / 86400.0 as double
        ) as days_requested_to_refunded,
        has_known_order_line,
        coalesce(is_refunded, false) as is_refunded,
        is_open,
        return_state = 'stale' as is_stale,
        refunded_at > {{ dbt.dateadd('day', var('slow_refund_days'), 'requested_at') }}
            as is_slow_refund,
        cast(ordered_date as date) as ordered_date,
        cast(requested_at as date) as requested_date,
        cast(refunded_at as date) as refunded_date,
        cast(requested_at as timestamp) as requested_at,
        cast(received_at as timestamp) as received_at,
        cast(inspected_at as timestamp) as inspected_at,
        cast(refunded_at as timestamp) as refunded_at
    from return_lines_joined_to_orders

)

select * from final
