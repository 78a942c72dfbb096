{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_changed('order_id', 'order_id') }}",
            "{{ delete_as_of_crossings(
                'is_return_window_closed', 'ordered_date', 8 + var('return_window_days')
            ) }}",
        ],
    )
}}
{#
    One row per order line of a known order: what was sold, to whom, from which batch and
    supplier, and what came back of it (summed over all returns of the line).

    Incremental (append, portable; docs/plans/incremental-facts.md increment 3): a line's row
    follows from its order's rows (order, lines, returns) and from what the change log
    (stg_loader__changed_orders) lists the orders of when it changes (customers, batches,
    exchange rates, products, retracted rows, erasures), plus the as-of date. So an
    incremental build deletes the rows of the orders the log lists since this model's last
    build (pre-hook delete_changed) and the rows whose is_return_window_closed the as-of date
    changed (pre-hook delete_as_of_crossings), then appends every line of
    int_order_lines_joined_to_returns it no longer holds: those, and any line missing for
    another reason. A first build, `--full-refresh` or a changed definition builds it fully.

    Built after the change log, which reads the previous build of this model (its
    customer_key -> order_id pairs) to find the orders that leave it: so every run that builds
    this model builds the log first, the returns_alerts job included.
#}
-- depends_on: {{ ref('stg_loader__changed_orders') }}
with

order_lines_with_returns as (

    select joined_lines.*
    from {{ ref('int_order_lines_joined_to_returns') }} as joined_lines
    {%- if is_incremental() %}
    {# the lines this table does not hold (after the pre-hooks' deletes): an anti-join on
       the key only #}
    left join {{ this }} as built
        on joined_lines.order_line_id = built.order_line_id
    where built.order_line_id is null
    {%- endif %}

),

return_lines as (

    select * from {{ ref('fct_returns') }}
    {%- if is_incremental() %}
    where order_line_id in (select order_line_id from order_lines_with_returns)
    {%- endif %}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

returns_ranked_per_order_line as (

    select
        order_line_id,
        reason,
        resolution,
        returned_value_eur,
        row_number() over (
            partition by order_line_id order by requested_at, rma_id
        ) as return_number
    from return_lines
    where has_known_order_line

),

returns_aggregated_to_order_lines as (

    select
        order_line_id,
        sum(returned_value_eur) as returned_value_eur,
        max(case when return_number = 1 then reason end) as first_return_reason,
        max(case when return_number = 1 then resolution end) as first_return_resolution
    from returns_ranked_per_order_line
    group by 1

),

final as (

    select
        cast(line_facts.order_line_id as string) as order_line_id,
        cast(line_facts.order_id as string) as order_id,
        cast(line_facts.customer_key as string) as customer_key,
        cast(line_facts.sku as string) as sku,
        cast(line_facts.product_id as string) as product_id,
        cast(line_facts.batch_id as string) as batch_id,
        cast(line_facts.supplier_id as string) as supplier_id,
        cast(line_facts.category as string) as category,
        cast(line_facts.subcategory as string) as subcategory,
        cast(line_facts.channel as string) as channel,
        cast(line_facts.shipping_country_code as string) as shipping_country_code,
        cast(line_returns.first_return_reason as string) as first_return_reason,
        cast(line_returns.first_return_resolution as string) as first_return_resolution,
        cast(line_facts.quantity as bigint) as quantity,
        cast(line_facts.unit_price_eur as decimal(18, 2)) as unit_price_eur,
        cast(line_facts.discount_eur as decimal(18, 2)) as discount_eur,
        cast(line_facts.line_amount_eur as decimal(18, 2)) as line_amount_eur,
        cast(line_facts.currency_code as string) as currency_code,
        cast(line_facts.exchange_rate as decimal(18, 12)) as exchange_rate,
        cast(line_facts.unit_price_original as decimal(18, 2)) as unit_price_original,
        cast(line_facts.discount_original as decimal(18, 2)) as discount_original,
        cast(line_facts.line_amount_original as decimal(18, 2)) as line_amount_original,
        cast(line_facts.cost_of_goods_sold_eur as decimal(18, 2)) as cost_of_goods_sold_eur,
        cast(line_facts.returned_quantity as bigint) as returned_quantity,
        cast(line_facts.refunded_eur as decimal(18, 2)) as refunded_eur,
        cast(coalesce(line_returns.returned_value_eur, 0) as decimal(18, 2)) as returned_value_eur,
        cast(line_facts.return_lines as bigint) as return_lines,
        line_facts.has_return,
        line_facts.has_known_customer,
        line_facts.has_known_product,
        line_facts.has_known_batch,
        coalesce(
            cast(
                {{ dbt.dateadd('day', 8 + var('return_window_days'), 'line_facts.ordered_date') }}
                as date
            ) <= warehouse_as_of.as_of_date,
            false
        ) as is_return_window_closed,
        cast(line_facts.ordered_date as date) as ordered_date,
        cast(line_facts.delivered_date as date) as delivered_date,
        cast(line_facts.ordered_at as timestamp) as ordered_at,
        cast(line_facts.delivered_at as timestamp) as delivered_at,
        cast(line_facts.first_return_requested_at as timestamp) as first_return_requested_at
    from order_lines_with_returns as line_facts
    left join returns_aggregated_to_order_lines as line_returns
        on line_facts.order_line_id = line_returns.order_line_id
    cross join warehouse_as_of

)

select * from final
