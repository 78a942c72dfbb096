{#
    Free-text reasons that neither the reason_text_map seed nor the keyword rules map, with
    how often they occur, so the seeds can grow. Lines with a portal code still got a reason
    from the code. suggested_reason is a hint for whoever extends the seeds, never the
    line's reason; suggestion_source says where it came from, strongest evidence first:
    - reason_code: the reason the portal codes of lines with this text point at most often;
    - weak_keywords: the best keyword rule that matched below the mapping threshold
      (var reason_keyword_min_priority; int_return_lines_mapped_to_reasons);
    - similar_keyword: a word of the text one or two letters away from a one-word keyword
      (a typo such as "kaptot", "defekd", "brokn"): the closest, then the highest priority.
#}
with

return_lines as (

    select * from {{ ref('int_return_lines_mapped_to_reasons') }}

),

reason_keywords as (

    select * from {{ ref('reason_keywords') }}

),

reason_precedence as (

    select * from {{ ref('reason_precedence') }}

),

unmapped_text_lines as (

    select * from return_lines
    {# texts whose writer is unknown (no known order) had no name masked: not listed #}
    where reason_text_normalised is not null and reason_from_text is null and is_writer_known

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

reasons_by_weak_keywords as (

    select
        reason_text_normalised,
        max(reason_suggested_by_keywords) as reason
    from unmapped_text_lines
    group by 1

),

unmapped_texts as (

    select distinct
        reason_text_normalised,
        trim({{ fold_text('reason_text_normalised') }}) as text_folded
    from unmapped_text_lines

),

text_words as (

    select distinct
        reason_text_normalised,
        word
    from (
        select
            reason_text_normalised,
            {{ split_words('text_folded') }} as word
        from unmapped_texts
    ) as words
    where length(word) >= 4

),

one_word_keywords as (

    select
        reason_keywords.reason,
        reason_keywords.priority,
        reason_precedence.precedence,
        trim(replace(reason_keywords.keyword, '_', ' ')) as keyword_word
    from reason_keywords
    left join reason_precedence
        on reason_keywords.reason = reason_precedence.reason
    where
        {{ dbt.position("' '", "trim(replace(reason_keywords.keyword, '_', ' '))") }} = 0
        and length(trim(replace(reason_keywords.keyword, '_', ' '))) >= 5

),

similar_words as (

    {# candidates share the first two letters; one edit allowed, two from eight letters #}
    select
        text_words.reason_text_normalised,
        one_word_keywords.reason,
        row_number() over (
            partition by text_words.reason_text_normalised
            order by
                levenshtein(text_words.word, one_word_keywords.keyword_word) asc,
                one_word_keywords.priority desc,
                one_word_keywords.precedence desc,
                one_word_keywords.reason asc
        ) as similarity_rank
    from text_words
    inner join one_word_keywords
        on substring(text_words.word, 1, 2) = substring(one_word_keywords.keyword_word, 1, 2)
    where
        abs(length(text_words.word) - length(one_word_keywords.keyword_word)) <= 2
        and text_words.word <> one_word_keywords.keyword_word
        and levenshtein(text_words.word, one_word_keywords.keyword_word)
        <= case when length(one_word_keywords.keyword_word) >= 8 then 2 else 1 end

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
        cast(coalesce(by_code.reason, by_weak_keywords.reason, by_similar_word.reason) as string)
            as suggested_reason,
        cast(case
            when by_code.reason is not null then 'reason_code'
            when by_weak_keywords.reason is not null then 'weak_keywords'
            when by_similar_word.reason is not null then 'similar_keyword'
        end as string) as suggestion_source,
        cast(texts.return_lines as bigint) as return_lines,
        cast(texts.return_lines_unknown_reason as bigint) as return_lines_unknown_reason,
        cast(texts.first_requested_at as timestamp) as first_requested_at,
        cast(texts.last_requested_at as timestamp) as last_requested_at
    from texts_aggregated as texts
    left join reasons_by_code_per_text as by_code
        on
            texts.reason_text_normalised = by_code.reason_text_normalised
            and by_code.reason_rank = 1
    left join reasons_by_weak_keywords as by_weak_keywords
        on texts.reason_text_normalised = by_weak_keywords.reason_text_normalised
    left join similar_words as by_similar_word
        on
            texts.reason_text_normalised = by_similar_word.reason_text_normalised
            and by_similar_word.similarity_rank = 1

)

select * from final
