{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_journeys_to_rebuild() }}",
            "{{ delete_changed('order_id', 'order_id') }}",
        ],
    )
}}
{#
    One row per order line: the customer's behaviour on the site before buying the product
    (see int_order_lines_joined_to_web_journeys) next to what came back of the line.
    Web events are an optional source: a shop that delivered none gets this mart (and
    sig_return_rate_by_behaviour_band) empty, never lines with zero views that look like data;
    marts.rpt_source_availability says "not available: no web events delivered".

    Incremental (append, portable; issue 16: rebuilt whole it cost 46 s of a day at 10M order
    lines). A line's row follows from its order's rows (its facts, its order's session, the
    sizes of its product in the order: the change log lists the order when they change), its
    journey (finalised in int_web_events_aggregated_to_order_lines, or pending: computed at
    every build from the events loaded so far), whether its product comes in several sizes
    (over all skus of the product) and whether any web event is loaded. So an incremental
    build deletes (pre-hooks delete_journeys_to_rebuild, then delete_changed) and appends again:
    the listed orders' lines, the lines ordered after today's finalisation horizon (every
    pending one is among them), the lines whose finalised journey was appended since this
    model's last build (pending then, or recomputed by a backfill or a full rebuild of the
    journeys), the lines of a product whose is_sized_product changed, and every line when no
    web event is loaded or the finalised journeys are not built in the run (macro
    journeys_to_rebuild). The lines to build are chosen first, as those the table no longer
    holds (an anti-join on the key), and the facts, sizes and journeys joined to them only
    (macro order_lines_joined_to_web_journeys). A first build, `--full-refresh`
    or a changed definition builds it fully, and so does a build by hand without a read
    recorded by the pipeline (delete_changed empties it, the body appends every line).
#}
-- depends_on: {{ ref('stg_loader__changed_orders') }}
{#- what the incremental build reads besides the view (dbt records no ref made only then) #}
-- depends_on: {{ ref('fct_order_lines') }}
-- depends_on: {{ ref('stg_shop__orders') }}
-- depends_on: {{ ref('dim_products') }}
-- depends_on: {{ ref('int_web_events_aggregated_to_order_lines') }}
{%- set plan = journeys_to_rebuild() %}
{%- set builds_some = is_incremental() and not plan.all %}
with

{% if builds_some -%}
{# the lines this table does not hold after the pre-hooks' deletes (an anti-join on the key):
   what they deleted, and lines never built; never a line it still holds, so no line is
   appended twice whatever the hooks chose, and a line deleted by a run whose append failed
   (Delta commits each statement) is built by the next #}
lines_to_build as (

    select order_lines.*
    from {{ ref('fct_order_lines') }} as order_lines
    left join {{ this }} as built
        on order_lines.order_line_id = built.order_line_id
    where built.order_line_id is null

),

{% endif -%}
journeys as (

    select * from
    {%- if builds_some %} ({{ order_lines_joined_to_web_journeys('lines_to_build') }}) as built
    {%- else %} {{ ref('int_order_lines_joined_to_web_journeys') }}
    {%- endif %}

),

web_events as (

    select * from {{ ref('stg_web__events') }}

),

final as (

    select
        cast(order_line_id as string) as order_line_id,
        cast(order_id as string) as order_id,
        cast(customer_key as string) as customer_key,
        cast(product_id as string) as product_id,
        cast(sku as string) as sku,
        cast(category as string) as category,
        cast(channel as string) as channel,
        has_web_journey,
        is_sized_product,
        is_bracketing,
        coalesce(size_guide_views > 0, false) as has_size_guide_view,
        cast(sessions_in_lookback as bigint) as sessions_in_lookback,
        cast(product_views as bigint) as product_views,
        cast(category_views as bigint) as category_views,
        cast(size_guide_views as bigint) as size_guide_views,
        cast(cart_adds as bigint) as cart_adds,
        cast(cart_removes as bigint) as cart_removes,
        cast(decision_minutes as double) as decision_minutes,
        cast(quantity as bigint) as quantity,
        cast(returned_quantity as bigint) as returned_quantity,
        has_return,
        cast(ordered_date as date) as ordered_date,
        cast(ordered_at as timestamp) as ordered_at,
        cast(first_product_view_at as timestamp) as first_product_view_at
    from journeys
    {# a count (one row), not exists(): DuckDB planned the uncorrelated exists as a cross
       product that buffered all 10M journey rows, out of memory under the default budget
       (issue 16) #}
    where (select count(*) from web_events) > 0

)

select * from final
