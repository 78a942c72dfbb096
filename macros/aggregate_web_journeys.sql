{#
    Web journeys of order lines: per line of `lines` (order_line_id, customer_key, product_id,
    category, ordered_at), what its customer did in `identified_events` (customer_key,
    session_id, event_type, event_at, product_id, category) in the look-back window
    (signal_var journey_lookback_days) up to the moment of the order. Lines without any event
    in the window have no row. One definition for the finalised journeys
    (int_web_events_aggregated_to_order_lines, incremental) and the pending ones
    (int_order_lines_joined_to_web_journeys), so both count alike.
    Events are cut to the lines' overall window first, so a day of new lines reads only the
    events of its own window, not the whole clickstream.
#}
{% macro aggregate_web_journeys(lines, identified_events) -%}
    {%- set lookback = -1 * signal_var('journey_lookback_days') -%}
    select
        journey_lines.order_line_id,
        count(distinct events.session_id) as sessions,
        sum(
            case
                when
                    events.event_type = 'product_view'
                    and events.product_id = journey_lines.product_id
                    and events.event_at < journey_lines.ordered_at
                    then 1
                else 0
            end
        ) as product_views,
        sum(
            case
                when
                    events.event_type = 'product_view'
                    and events.category = journey_lines.category
                    and events.event_at < journey_lines.ordered_at
                    then 1
                else 0
            end
        ) as category_views,
        min(
            case
                when
                    events.event_type = 'product_view'
                    and events.product_id = journey_lines.product_id
                    and events.event_at < journey_lines.ordered_at
                    then events.event_at
            end
        ) as first_product_view_at,
        sum(
            case
                when
                    events.event_type = 'size_guide_view'
                    and events.product_id = journey_lines.product_id
                    then 1
                else 0
            end
        ) as size_guide_views,
        sum(
            case
                when
                    events.event_type = 'add_to_cart'
                    and events.product_id = journey_lines.product_id
                    then 1
                else 0
            end
        ) as cart_adds,
        sum(
            case
                when
                    events.event_type = 'remove_from_cart'
                    and events.product_id = journey_lines.product_id
                    then 1
                else 0
            end
        ) as cart_removes
    from {{ lines }} as journey_lines
    inner join (
        select {{ identified_events }}.*
        from {{ identified_events }}
        where
            event_at >= (
                select {{ dbt.dateadd('day', lookback, 'min(ordered_at)') }}
                from {{ lines }}
            )
            and event_at <= (select max(ordered_at) from {{ lines }})
    ) as events
        on
            journey_lines.customer_key = events.customer_key
            and journey_lines.ordered_at >= events.event_at
            and events.event_at >= {{ dbt.dateadd('day', lookback, 'journey_lines.ordered_at') }}
    group by 1
{%- endmacro %}
