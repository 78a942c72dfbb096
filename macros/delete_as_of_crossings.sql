{#
    Pre-hook of an incremental model (append strategy) holding a flag that follows from the
    data's as-of date (int_warehouse_as_of) alone, e.g. fct_order_lines.is_return_window_closed:
    on an incremental build, delete its rows whose stored `flag_column` differs from what it is
    at today's as-of date, `date_column` plus `days` on or before it (false when either is
    null), so that the run appends them again. Both directions: a window closing as the as-of
    date moves on, and one opening again when it moves back (data removed). The model's body
    appends every row it no longer holds. Nothing on a first or full-refresh build.
    The as-of date is read before the DELETE and pasted as a checked date literal (as_of_literal): a plain
    DELETE without a subquery, as Delta accepts it. Dispatched, as delete_changed.
    With as_of='as_of_at', a timestamp column plus days against the as-of moment instead
    (no cast to a date), e.g. int_orders_joined_to_repeat_purchases.is_90d_window_closed:
    ordered_at plus 90 days on or before as_of_at.
#}
{% macro delete_as_of_crossings(flag_column, date_column, days, as_of='as_of_date') -%}
    {{ return(adapter.dispatch('delete_as_of_crossings', 'returnlens')(
        flag_column, date_column, days, as_of
    )) }}
{%- endmacro %}

{% macro default__delete_as_of_crossings(flag_column, date_column, days, as_of='as_of_date') -%}
    {%- if is_incremental() and execute -%}
        {%- set as_of_date = as_of_literal(as_of) -%}
        {%- if as_of_date is none -%}
            {%- set is_closed = 'false' -%}
        {%- elif as_of == 'as_of_at' -%}
            {%- set is_closed -%}
                coalesce({{ dbt.dateadd('day', days | int, date_column) }} <= {{ as_of_date }}, false)
            {%- endset -%}
        {%- else -%}
            {%- set is_closed -%}
                coalesce(
                    cast({{ dbt.dateadd('day', days | int, date_column) }} as date)
                    <= {{ as_of_date }},
                    false
                )
            {%- endset -%}
        {%- endif -%}
        delete from {{ this }}
        where {{ flag_column }} <> {{ is_closed }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_as_of_crossings(flag_column, date_column, days, as_of='as_of_date') -%}
    {{- require_delta_for_deletes(flag_column ~ " the as-of date changed") -}}
    {{- default__delete_as_of_crossings(flag_column, date_column, days, as_of) }}
{%- endmacro %}
