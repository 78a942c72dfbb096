{#
    Pre-hook of an incremental model (append strategy) holding a return's refund speed that
    is 'unknown' while the returns export carries no refunded_at at all (no row of `returns`
    has one), else 'fast', 'slow' or 'no_refund', e.g.
    int_orders_joined_to_repeat_purchases.first_return_refund_speed: on an incremental build,
    delete its rows whose stored speed belongs to the other case than today's, so that the
    run appends them again. The first refund timestamp delivered changes the speed of every
    order with a return, not only of the orders the change log lists. Nothing on a first or
    full-refresh build. Whether `returns` has a refund timestamp is read before the DELETE and
    pasted as one of two fixed lists of words: a plain DELETE without a subquery, as Delta
    accepts it. Dispatched, as delete_changed.
#}
{% macro delete_refund_speed_crossings(speed_column, returns) -%}
    {{ return(adapter.dispatch('delete_refund_speed_crossings', 'returnlens')(
        speed_column, returns
    )) }}
{%- endmacro %}

{% macro default__delete_refund_speed_crossings(speed_column, returns) -%}
    {%- if is_incremental() and execute -%}
        {%- set found = run_query(
            "select count(*) from " ~ returns ~ " where refunded_at is not null"
        ) -%}
        {%- set has_refund_timestamps = found.rows | length > 0
            and (found.rows[0][0] or 0) | int > 0 -%}
        delete from {{ this }}
        {%- if has_refund_timestamps %}
        where {{ speed_column }} = 'unknown'
        {%- else %}
        where {{ speed_column }} in ('fast', 'slow', 'no_refund')
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_refund_speed_crossings(speed_column, returns) -%}
    {{- require_delta_for_deletes(speed_column ~ " the first refund timestamp changed") -}}
    {{- default__delete_refund_speed_crossings(speed_column, returns) }}
{%- endmacro %}
