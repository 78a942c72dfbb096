{#
    The reason the keyword rules give each distinct reason text: among the keywords found in
    it (int_reason_keywords_found_in_texts) with priority >= var reason_keyword_min_priority,
    the highest priority wins, then the reason's precedence (reason_precedence: a named defect
    or wrong item beats "changed my mind"), then the longest keyword. Keywords below that
    priority only give reason_below_threshold (a hint, never the reason).
#}
{%- set min_priority = var('reason_keyword_min_priority', 10) %}
with

keyword_matches as (

    select * from {{ ref('int_reason_keywords_found_in_texts') }}

),

keyword_matches_ranked as (

    select
        reason_text_normalised,
        reason,
        priority,
        row_number() over (
            partition by reason_text_normalised, priority >= {{ min_priority }}
            order by
                priority desc,
                precedence desc,
                length(pattern) desc,
                reason asc
        ) as match_rank
    from keyword_matches

),

texts_mapped_by_keywords as (

    select
        reason_text_normalised,
        max(case when priority >= {{ min_priority }} then reason end) as reason,
        max(case when priority < {{ min_priority }} then reason end) as reason_below_threshold
    from keyword_matches_ranked
    where match_rank = 1
    group by 1

)

select * from texts_mapped_by_keywords
