{#
    The finalisation horizon of the web journeys, as a query of one row (finalised_until):
    the latest web event or order loaded, whichever is earlier, less signal_var
    journey_late_event_days. A device whose clock runs ahead cannot finalise journeys whose
    events are still to come. One definition for the finalised journeys
    (int_web_events_aggregated_to_order_lines, which finalise every line with a purchase
    session ordered up to it) and sig_purchase_journeys (whose incremental build rebuilds
    every line ordered after it: the pending ones are among them). It reads the tables, not
    CTEs of a caller: DuckDB materialises a CTE read twice (all its rows: every web event with
    its customer hash, every order line), which spilled gigabytes at 10M order lines (issue
    16: 115 s CPU before, 72 s after).
#}
{% macro journey_horizon() -%}
    select
        {{ dbt.dateadd(
            'day',
            -1 * signal_var('journey_late_event_days'),
            'least(latest_event.latest_event_at, latest_order.latest_ordered_at)',
        ) }} as finalised_until
    from (
        select max(event_at) as latest_event_at from {{ ref('stg_web__events') }}
    ) as latest_event
    cross join (
        select max(ordered_at) as latest_ordered_at from {{ ref('fct_order_lines') }}
    ) as latest_order
{%- endmacro %}
