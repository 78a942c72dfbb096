{#
    Free-text reasons that the reason_text_map seed does not recognise, with how often they
    occur, so the map can grow. Lines with a portal code still got a reason from the code;
    suggested_reason is the reason their codes point at most often (a hint, not a rule).
#}
with

return_lines as (

    select * from {{ ref('int_return_lines_mapped_to_reasons') }}

),

unmapped_text_lines as (

    select * from return_lines
    where reason_text_normalised is not null and reason_from_text is null

),

reasons_by_code_per_text as (

    select
        reason_text_normalised,
        reason,
        count(*) as return_lines,
        row_number() over (
            partition by reason_text_normalised order by count(*) desc, reason
        ) as reason_rank
    from unmapped_text_lines
    where reason_source = 'reason_code'
    group by 1, 2

),

texts_aggregated as (

    select
        reason_text_normalised,
        count(*) as return_lines,
        sum(case when reason_source = 'unmapped_text' then 1 else 0 end)
            as return_lines_unknown_reason,
        min(requested_at) as first_requested_at,
        max(requested_at) as last_requested_at
    from unmapped_text_lines
    group by 1

),

final as (

    select
        cast(texts.reason_text_normalised as string) as reason_text_normalised,
        cast(suggestions.reason as string) as suggested_reason,
        cast(texts.return_lines as bigint) as return_lines,
        cast(texts.return_lines_unknown_reason as bigint) as return_lines_unknown_reason,
        cast(texts.first_requested_at as timestamp) as first_requested_at,
        cast(texts.last_requested_at as timestamp) as last_requested_at
    from texts_aggregated as texts
    left join reasons_by_code_per_text as suggestions
        on
            texts.reason_text_normalised = suggestions.reason_text_normalised
            and suggestions.reason_rank = 1

)

select * from final
