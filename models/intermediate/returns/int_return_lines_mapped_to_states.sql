{#
    Every return line with its state: open, closed, cancelled, rejected or stale, and the
    rule that decided (return_state_rule):
      status      the portal's status (stg source_status) is in the return_status_map seed:
                  its state wins, except that an open status with a closing timestamp is
                  closed (the refund or inspection is newer than the status export)
      timestamps  no status, or one the seed does not know: closed once refunded (an
                  exchange once inspected), else open while requested at most
                  return_window_days + open_return_slack_days before the data's as-of moment
      stale       no (known) status, no closing timestamp, and requested longer ago than
                  that: not plausibly open, so not in the review queue; counted per month
                  in rpt_return_states
    open_step says what an open return waits for: the status's step where the seed gives
    one, else the timestamps' (received: inspection; inspected: refund; else receipt).

    A table (issue 16): read by fct_returns, rpt_return_states, rpt_unmapped_return_statuses
    and a data test, each of which rebuilt the states (and, before the reasons were a table,
    the whole reason mapping) on every scan. Texts of known writers only, as in
    int_return_lines_mapped_to_reasons; customers only as keys.
#}
{{ config(materialized='table') }}
{%- set max_age_days = var('return_window_days') + var('open_return_slack_days') %}
with

return_lines as (

    select * from {{ ref('int_return_lines_mapped_to_reasons') }}

),

return_status_map as (

    select * from {{ ref('return_status_map') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

normalised_status_map as (

    select
        {{ normalise_text("replace(replace(status, '_', ' '), '-', ' ')") }} as status,
        min(state) as state,
        min(open_step) as open_step
    from return_status_map
    group by 1

),

return_lines_with_evidence as (

    select
        return_lines.rma_id,
        return_lines.order_line_id,
        return_lines.order_id,
        return_lines.sku,
        return_lines.reason_code,
        return_lines.reason_text,
        return_lines.condition_grade,
        return_lines.disposition,
        return_lines.resolution,
        return_lines.source_status,
        return_lines.returned_quantity,
        return_lines.refund_amount_eur,
        return_lines.refund_amount_original,
        return_lines.currency_code,
        return_lines.exchange_rate,
        return_lines.is_refunded,
        return_lines.is_writer_known,
        return_lines.requested_date,
        return_lines.requested_at,
        return_lines.received_at,
        return_lines.inspected_at,
        return_lines.refunded_at,
        return_lines.reason_code_normalised,
        return_lines.reason_text_normalised,
        return_lines.reason,
        return_lines.reason_source,
        return_lines.reason_from_text,
        normalised_status_map.state as status_state,
        normalised_status_map.open_step as status_open_step,
        {# an exchange is never refunded: it is done once the goods are inspected #}
        case
            when return_lines.resolution = 'exchange' then return_lines.inspected_at is not null
            else return_lines.refunded_at is not null
        end as is_closed_by_timestamps,
        coalesce(
            return_lines.requested_at
            >= {{ dbt.dateadd('day', -max_age_days, 'warehouse_as_of.as_of_at') }},
            true
        ) as is_within_open_age
    from return_lines
    cross join warehouse_as_of
    left join normalised_status_map
        on return_lines.source_status = normalised_status_map.status

),

return_lines_with_rules as (

    select
        *,
        case
            when is_closed_by_timestamps and coalesce(status_state, 'open') = 'open'
                then 'timestamps'
            when status_state is not null then 'status'
            when is_within_open_age then 'timestamps'
            else 'stale'
        end as return_state_rule
    from return_lines_with_evidence

),

return_lines_with_states as (

    select
        *,
        case
            when return_state_rule = 'stale' then 'stale'
            when return_state_rule = 'status' then status_state
            when is_closed_by_timestamps then 'closed'
            else 'open'
        end as return_state,
        case
            when return_state_rule = 'stale' then false
            when return_state_rule = 'status' then status_state = 'open'
            else not is_closed_by_timestamps
        end as is_open,
        source_status is not null and status_state is null as has_unknown_status
    from return_lines_with_rules

),

final as (

    select
        *,
        case
            when not is_open then null
            when status_open_step is not null then status_open_step
            when inspected_at is not null then 'awaiting_refund'
            when received_at is not null then 'awaiting_inspection'
            else 'awaiting_receipt'
        end as open_step
    from return_lines_with_states

)

select * from final
