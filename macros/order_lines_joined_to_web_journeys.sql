{#
    One row per order line of fct_order_lines with what the customer did on the site before
    buying it (the body of int_order_lines_joined_to_web_journeys, whose description says what
    each column counts), for every line, or for the lines of `lines` only (a relation or CTE
    of rows of fct_order_lines, all its columns): sig_purchase_journeys' incremental build
    passes the lines it builds again. The lines are then read from `lines` and the other
    tables with their ids or their orders' ids, so the sizes per order, the pending-line
    anti-join and the pending journeys run over those lines only: DuckDB pushes no filter on
    the result into them (issue 16: the whole body took 21 s CPU at 10M order lines), nor a
    semi-join on the lines below the join of all order lines with their orders (3 s of the
    first filtered version there). The sizes in an order are counted over all its lines, built
    or not. Without `lines` the query is the view's as it was, table for table.
#}
{% macro order_lines_joined_to_web_journeys(lines=none) -%}
with

order_lines as (

    select * from {{ lines or ref('fct_order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {%- if lines %}
    where order_id in (select order_id from {{ lines }})
    {%- endif %}

),

events as (

    select * from {{ ref('stg_web__events') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

product_size_counts as (

    select
        product_id,
        count(distinct size) as sizes
    from products
    group by 1

),

{# the sizes of a product in one order, for bracketing: distinct rows, then counted (a
   distinct count over a window is DuckDB-only; a grouped distinct count ran out of memory at
   10M order lines under the default budget, issue 16). It reads the table, not the
   order_lines CTE: DuckDB materialises a CTE read twice (all 10M lines, 3.2 GB at 10M) #}
sizes_in_orders as (

    select
        order_id,
        product_id,
        count(size) as sizes_in_order
    from (
        select distinct
            order_lines.order_id,
            order_lines.product_id,
            products.size
        from {{ ref('fct_order_lines') }} as order_lines
        left join products
            on order_lines.sku = products.sku
        {%- if lines %}
        {# every line of the orders built, not only the lines built: bracketing counts the
           sizes of the product in the whole order #}
        where order_lines.order_id in (select order_id from {{ lines }})
        {%- endif %}
    ) as sizes_of_lines
    group by 1, 2

),

lines_with_orders as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.customer_key,
        order_lines.product_id,
        order_lines.sku,
        order_lines.category,
        order_lines.channel,
        order_lines.quantity,
        order_lines.returned_quantity,
        order_lines.has_return,
        order_lines.ordered_at,
        order_lines.ordered_date,
        orders.session_id is not null as has_web_journey,
        coalesce(product_size_counts.sizes, 0) > 1 as is_sized_product,
        sizes_in_orders.sizes_in_order
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join product_size_counts
        on order_lines.product_id = product_size_counts.product_id
    left join sizes_in_orders
        on
            order_lines.order_id = sizes_in_orders.order_id
            and order_lines.product_id is not distinct from sizes_in_orders.product_id

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

finalised_journeys as (

    select * from {{ ref('int_web_events_aggregated_to_order_lines') }}
    {%- if lines %}
    where order_line_id in (select order_line_id from {{ lines }})
    {%- endif %}

),

{# the lines with a purchase session that are not finalised yet: ids only first. Anti-joined
   with all their columns, DuckDB built its hash table from the ~9M wide lines (customer_key,
   product, category, time), ~2.4 GB at 10M order lines, and ran out of memory under the
   default budget in 4 of 11 10M builds (issue 16, docs/operations.md "Memory"); the ids
   take a fraction of that. The tables are read here, not the CTEs: DuckDB materialises a
   CTE read twice (all its rows) #}
pending_line_ids as (

    select order_lines.order_line_id
    from {{ lines or ref('fct_order_lines') }} as order_lines
    inner join {{ ref('stg_shop__orders') }} as orders
        on order_lines.order_id = orders.order_id
    left join {{ ref('int_web_events_aggregated_to_order_lines') }} as finalised
        on order_lines.order_line_id = finalised.order_line_id
    where orders.session_id is not null and finalised.order_line_id is null

),

{# the columns the journeys macro reads, from the order lines themselves: a second reader
   of lines_with_orders (or of the order_lines and orders CTEs) made DuckDB materialise
   all their rows (10M wide lines), which ran out of memory under the default budget
   (issue 16); fct_order_lines has one row per order_line_id (tested unique) #}
pending_lines as (

    select
        order_lines.order_line_id,
        order_lines.customer_key,
        order_lines.product_id,
        order_lines.category,
        order_lines.ordered_at
    from {{ lines or ref('fct_order_lines') }} as order_lines
    inner join pending_line_ids
        on order_lines.order_line_id = pending_line_ids.order_line_id

),

pending_journeys as (

    {{ aggregate_web_journeys('pending_lines', 'identified_events') }}

),

journeys as (

    select
        order_line_id,
        sessions,
        product_views,
        category_views,
        first_product_view_at,
        size_guide_views,
        cart_adds,
        cart_removes
    from finalised_journeys

    union all

    select
        order_line_id,
        sessions,
        product_views,
        category_views,
        first_product_view_at,
        size_guide_views,
        cart_adds,
        cart_removes
    from pending_journeys

),

final as (

    select
        line_facts.order_line_id,
        line_facts.order_id,
        line_facts.customer_key,
        line_facts.product_id,
        line_facts.sku,
        line_facts.category,
        line_facts.channel,
        line_facts.has_web_journey,
        line_facts.is_sized_product,
        line_facts.sizes_in_order > 1 as is_bracketing,
        case when line_facts.has_web_journey then coalesce(journeys.sessions, 0) end
            as sessions_in_lookback,
        case when line_facts.has_web_journey then coalesce(journeys.product_views, 0) end
            as product_views,
        case when line_facts.has_web_journey then coalesce(journeys.category_views, 0) end
            as category_views,
        case when line_facts.has_web_journey then coalesce(journeys.size_guide_views, 0) end
            as size_guide_views,
        case when line_facts.has_web_journey then coalesce(journeys.cart_adds, 0) end
            as cart_adds,
        case when line_facts.has_web_journey then coalesce(journeys.cart_removes, 0) end
            as cart_removes,
        {{ dbt.datediff('journeys.first_product_view_at', 'line_facts.ordered_at', 'second') }}
        / 60.0 as decision_minutes,
        journeys.first_product_view_at,
        line_facts.quantity,
        line_facts.returned_quantity,
        line_facts.has_return,
        line_facts.ordered_at,
        line_facts.ordered_date
    from lines_with_orders as line_facts
    left join journeys
        on
            line_facts.order_line_id = journeys.order_line_id
            and line_facts.has_web_journey

)

select * from final
{%- endmacro %}
