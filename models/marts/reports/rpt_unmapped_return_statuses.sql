{#
    Status values the portal delivered that seeds/return_status_map.csv does not know, with
    how often they occur and what the timestamp rule made of them (open, closed or stale;
    docs/kpis.md), so the seed can grow: add the value with its state and rebuild.
#}
with

return_lines as (

    select * from {{ ref('int_return_lines_mapped_to_states') }}

),

statuses_aggregated as (

    select
        source_status,
        count(*) as return_lines,
        sum(case when return_state = 'open' then 1 else 0 end) as open_lines,
        sum(case when return_state = 'closed' then 1 else 0 end) as closed_lines,
        sum(case when return_state = 'stale' then 1 else 0 end) as stale_lines,
        min(requested_at) as first_requested_at,
        max(requested_at) as last_requested_at
    from return_lines
    where has_unknown_status
    group by 1

),

final as (

    select
        cast(source_status as string) as source_status,
        cast(return_lines as bigint) as return_lines,
        cast(open_lines as bigint) as open_lines,
        cast(closed_lines as bigint) as closed_lines,
        cast(stale_lines as bigint) as stale_lines,
        cast(first_requested_at as timestamp) as first_requested_at,
        cast(last_requested_at as timestamp) as last_requested_at
    from statuses_aggregated

)

select * from final
