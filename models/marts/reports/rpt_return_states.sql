{#
    How the state of every return line was decided, per month of the return request: open,
    closed, cancelled, rejected and stale lines, and how many were decided by the portal's
    status or by the timestamps (int_return_lines_mapped_to_states, docs/kpis.md). Stale
    lines have no known status and no closing timestamp and were requested more than
    max_open_age_days (return_window_days + open_return_slack_days) before the data's as-of
    moment: they are not in the review queue. The GX suite rpt_return_states warns (does not
    block) when stale lines exceed stale_tolerance_share (var stale_return_tolerance_share)
    of all return lines: the shop likely exports no status and no processing timestamps.
#}
{%- set max_age_days = var('return_window_days') + var('open_return_slack_days') %}
with

return_lines as (

    select * from {{ ref('int_return_lines_mapped_to_states') }}

),

lines_counted_per_month as (

    select
        {{ month_start_date('requested_at') }} as requested_month_start_date,
        count(*) as return_lines,
        sum(case when return_state = 'open' then 1 else 0 end) as open_lines,
        sum(case when return_state = 'closed' then 1 else 0 end) as closed_lines,
        sum(case when return_state = 'cancelled' then 1 else 0 end) as cancelled_lines,
        sum(case when return_state = 'rejected' then 1 else 0 end) as rejected_lines,
        sum(case when return_state = 'stale' then 1 else 0 end) as stale_lines,
        sum(case when return_state_rule = 'status' then 1 else 0 end) as lines_decided_by_status,
        sum(case when return_state_rule = 'timestamps' then 1 else 0 end)
            as lines_decided_by_timestamps,
        sum(case when has_unknown_status then 1 else 0 end) as lines_with_unknown_status
    from return_lines
    group by 1

),

final as (

    select
        cast(requested_month_start_date as date) as requested_month_start_date,
        cast(return_lines as bigint) as return_lines,
        cast(open_lines as bigint) as open_lines,
        cast(closed_lines as bigint) as closed_lines,
        cast(cancelled_lines as bigint) as cancelled_lines,
        cast(rejected_lines as bigint) as rejected_lines,
        cast(stale_lines as bigint) as stale_lines,
        cast(lines_decided_by_status as bigint) as lines_decided_by_status,
        cast(lines_decided_by_timestamps as bigint) as lines_decided_by_timestamps,
        cast(lines_with_unknown_status as bigint) as lines_with_unknown_status,
        cast(stale_lines as double) / return_lines as stale_share,
        cast({{ max_age_days }} as bigint) as max_open_age_days,
        cast({{ var('stale_return_tolerance_share', 0.05) }} as double) as stale_tolerance_share
    from lines_counted_per_month

)

select * from final
