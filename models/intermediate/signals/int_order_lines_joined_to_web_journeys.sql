{#
    One row per order line with what the customer did on the site before buying it: the
    identified customer's web events in the look-back window (signal_var journey_lookback_days)
    up to the moment of the order. Views, size-guide views and cart events count when they
    are about the line's product (any sku of its product_id); category views when about any
    product of its category. Marketplace orders have no purchase session: has_web_journey is
    false and the behaviour columns are null for them.
    Journeys of lines up to the finalisation horizon come from the incremental
    int_web_events_aggregated_to_order_lines, the few after it (pending) are computed here by
    the same macro; what a later delivery can change (returns, sizes, category) is joined
    here at every run, so a late return updates its line without reading any web event.
#}
{{ order_lines_joined_to_web_journeys() }}
