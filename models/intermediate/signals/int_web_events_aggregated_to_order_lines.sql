{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_backfill_range('ordered_at') }}",
        meta={
            'rebuild_fully_when': {
                'forgotten_customers': true,
                'changed': {'stg_shop__products': ['sku', 'product_id', 'category']},
            },
        },
    )
}}
{#
    The finalised web journeys of order lines (see int_order_lines_joined_to_web_journeys):
    one row per line with a purchase session ordered up to the finalisation horizon, the
    latest web event or order loaded (whichever is earlier) less signal_var
    journey_late_event_days. A journey is what
    happened before the order, so once the events of its window are all in (web events arrive
    at most that many days late) it never changes; each run appends the lines not yet here
    (new days, late-delivered orders, a backfilled range) and reads only their events' window.
    What can still change is left out: the line's returns, sizes and category come from
    fct_order_lines and dim_products at every run. Each row carries the change log's seq of
    the run that appended it (change_seq), which sig_purchase_journeys' incremental build
    follows. Lines after the horizon are pending,
    computed at every run by the same macro (aggregate_web_journeys).
    Append only (portable: DuckDB and Spark); `returnlens run --full-refresh`, a change of
    this model's definition, or a change of what its rows were built from (meta
    rebuild_fully_when: a forgotten customer, a product's sku, id or category changed or
    removed) rebuilds it, `--backfill-start/--backfill-end` recomputes a range
    (docs/operations.md).
#}
{%- set appended_by = change_log_seq() %}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('stg_web__events') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

{# the horizon (macro journey_horizon, shared with sig_purchase_journeys' incremental build) #}
horizon as (

    {{ journey_horizon() }}

),

lines_to_finalise as (

    select
        order_lines.order_line_id,
        order_lines.customer_key,
        order_lines.product_id,
        order_lines.category,
        order_lines.ordered_at
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    inner join horizon
        on order_lines.ordered_at <= horizon.finalised_until
    where
        orders.session_id is not null
    {% if is_incremental() %}
        and not exists (
            select 1
            from {{ this }} as finalised
            where finalised.order_line_id = order_lines.order_line_id
        )
    {% endif %}

),

identified_events as (

    select
        events.customer_key,
        events.session_id,
        events.event_type,
        events.event_at,
        products.product_id,
        products.category
    from events
    left join products
        on events.sku = products.sku
    where events.customer_key is not null

),

journeys as (

    {{ aggregate_web_journeys('lines_to_finalise', 'identified_events') }}

),

final as (

    select
        cast(line_facts.order_line_id as string) as order_line_id,
        cast(line_facts.ordered_at as timestamp) as ordered_at,
        cast(coalesce(journeys.sessions, 0) as bigint) as sessions,
        cast(coalesce(journeys.product_views, 0) as bigint) as product_views,
        cast(coalesce(journeys.category_views, 0) as bigint) as category_views,
        cast(coalesce(journeys.size_guide_views, 0) as bigint) as size_guide_views,
        cast(coalesce(journeys.cart_adds, 0) as bigint) as cart_adds,
        cast(coalesce(journeys.cart_removes, 0) as bigint) as cart_removes,
        cast(journeys.first_product_view_at as timestamp) as first_product_view_at,
        {# the change log's seq of the run that appended the row (macro change_log_seq; null
           when the log is not built in that run): sig_purchase_journeys rebuilds the lines
           appended here since its own last build, pending there or recomputed by a backfill
           or a full rebuild of this table #}
        cast({{ appended_by if appended_by is not none else 'null' }} as bigint) as change_seq
    from lines_to_finalise as line_facts
    left join journeys
        on line_facts.order_line_id = journeys.order_line_id

)

select * from final
