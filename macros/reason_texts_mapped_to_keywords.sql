{#
    CTEs (to place in a model's `with`, the last one named `texts_mapped_by_keywords`): the
    reason the keyword rules give each distinct reason text, from the keywords found in it
    (`keyword_matches`, macro reason_keywords_found_in_texts). Among the keywords with
    priority >= var reason_keyword_min_priority the highest priority wins, then the reason's
    precedence (reason_precedence: a named defect or wrong item beats "changed my mind"),
    then the longest keyword. Keywords below that priority only give reason_below_threshold
    (a hint, never the reason). One row per reason_text_normalised with a keyword found.
    A macro, not a model: see reason_text_spellings.
#}
{% macro reason_texts_mapped_to_keywords(keyword_matches) -%}
{%- set min_priority = var('reason_keyword_min_priority', 10) %}
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
    from {{ keyword_matches }}

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
{%- endmacro %}
