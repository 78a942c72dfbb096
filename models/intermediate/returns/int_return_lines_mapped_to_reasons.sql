{#
    Every return line with its standard reason. The portal's reason code wins when present
    and known; otherwise the normalised free text is looked up in the variant map (exact
    texts), then in the multilingual keyword rules (reason_keywords: NL, EN, DE, FR phrases
    and stems; see below); anything else is `unknown`. reason_source says which rule
    decided, so nothing is dropped silently.

    Keyword matching, per distinct text (never per line):
    - the text is folded (macro fold_text: lower case, accents off, clause marks kept;
      macro expand_contractions: "dont" as "don t") and
      read in up to four spellings: as written, umlauts spelt out (gefaellt as gefallt),
      and letter runs shortened to two and to one (veeel as veel, zuuu as zu);
    - keywords are substrings of a spelling ('_' marks a word boundary; a keyword without
      one also matches inside a compound: transportschaden, kapotgegaan); candidates come
      from an index on the first four characters of the keyword, so the cost grows with
      the text's length, not with the number of keywords;
    - an occurrence right after a negation cue (reason_negations: "niet te klein",
      "not too small", "nicht zu klein", "pas trop petit", "onbeschadigd") does not count;
    - among the keywords left with priority >= var reason_keyword_min_priority, the highest
      priority wins, then the reason's precedence (reason_precedence: a named defect or
      wrong item beats "changed my mind"), then the longest keyword. Keywords below that
      priority only feed reason_suggested_by_keywords (a hint, never the reason).
#}
{%- set min_priority = var('reason_keyword_min_priority', 10) %}


with

return_lines as (

    select * from {{ ref('stg_returns__return_lines') }}

),

reason_code_map as (

    select * from {{ ref('reason_code_map') }}

),

reason_text_map as (

    select * from {{ ref('reason_text_map') }}

),

reason_keywords as (

    select * from {{ ref('reason_keywords') }}

),

reason_negations as (

    select * from {{ ref('reason_negations') }}

),

reason_precedence as (

    select * from {{ ref('reason_precedence') }}

),

normalised_code_map as (

    {# a code that itself says 'unknown' (Shopify's UNKNOWN) leaves the decision to the text #}
    select
        upper(trim(reason_code)) as reason_code,
        nullif(reason, 'unknown') as reason,
        true as is_known_code
    from reason_code_map

),

normalised_text_map as (

    select
        {{ normalise_text('reason_text') }} as reason_text_normalised,
        min(reason) as reason
    from reason_text_map
    group by 1

),

return_lines_normalised as (

    select
        rma_id,
        order_line_id,
        order_id,
        sku,
        reason_code,
        reason_text,
        condition_grade,
        disposition,
        resolution,
        source_status,
        returned_quantity,
        refund_amount_eur,
        is_refunded,
        is_writer_known,
        requested_date,
        requested_at,
        received_at,
        inspected_at,
        refunded_at,
        nullif(upper(trim(reason_code)), '') as reason_code_normalised,
        {{ normalise_text('reason_text') }} as reason_text_normalised
    from return_lines

),

keyword_patterns as (

    select
        reason_keywords.reason,
        reason_keywords.priority,
        reason_precedence.precedence,
        reason_keywords.keyword,
        {# '_' in a keyword stands for a word boundary (a space in the folded text) #}
        replace(reason_keywords.keyword, '_', ' ') as pattern,
        substring(replace(reason_keywords.keyword, '_', ' '), 1, 4) as pattern_head,
        {# where the keyword's first word starts within the pattern (after a boundary) #}
        case when substring(reason_keywords.keyword, 1, 1) = '_' then 1 else 0 end
            as leading_boundary,
        case when {{ dbt.right('reason_keywords.keyword', 1) }} = '_' then 1 else 0 end
            as trailing_boundary
    from reason_keywords
    left join reason_precedence
        on reason_keywords.reason = reason_precedence.reason

),

negation_cues as (

    select
        replace(cue, '_', ' ') as cue_pattern,
        {{ dbt.right("replace(cue, '_', ' ')", 3) }} as cue_tail
    from reason_negations

),

distinct_texts as (

    select distinct reason_text_normalised
    from return_lines_normalised
    where reason_text_normalised is not null

),

texts_folded as (

    {# folded once per distinct text, not per line #}
    select
        reason_text_normalised,
        {{ expand_contractions(fold_text('reason_text_normalised')) }}
            as text_folded
    from distinct_texts

),

text_spellings as (

    {# the text as written, umlauts spelt out (gefaellt, groesser as gefallt, grosser),
       and stretched letters shortened (veeel, tooo, zuuu as veel/vel, too/to, zuu/zu) #}
    select
        reason_text_normalised,
        text_folded as spelling
    from texts_folded
    union
    select
        reason_text_normalised,
        replace(replace(replace(text_folded, 'ae', 'a'), 'oe', 'o'), 'ue', 'u') as spelling
    from texts_folded
    union
    select
        reason_text_normalised,
        {{ collapse_letter_runs('text_folded', 2) }} as spelling
    from texts_folded
    union
    select
        reason_text_normalised,
        {{ collapse_letter_runs('text_folded', 1) }} as spelling
    from texts_folded

),

spelling_positions as (

    select
        reason_text_normalised,
        spelling,
        {{ explode_positions('length(spelling) - 3') }} as start_position
    from text_spellings
    where length(spelling) >= 4

),

spelling_grams as (

    select
        reason_text_normalised,
        spelling,
        start_position,
        substring(spelling, start_position, 4) as gram
    from spelling_positions

),

keyword_occurrences as (

    {# index join on the first four characters, then the whole keyword at that place #}
    select
        grams.reason_text_normalised,
        grams.spelling,
        grams.start_position,
        {# the keyword's words, boundaries excluded: [word_start, word_end) #}
        grams.start_position + keyword_patterns.leading_boundary as word_start,
        grams.start_position + length(keyword_patterns.pattern)
        - keyword_patterns.trailing_boundary as word_end,
        keyword_patterns.keyword,
        keyword_patterns.pattern,
        keyword_patterns.reason,
        keyword_patterns.priority,
        keyword_patterns.precedence
    from spelling_grams as grams
    inner join keyword_patterns
        on grams.gram = keyword_patterns.pattern_head
    where
        substring(grams.spelling, grams.start_position, length(keyword_patterns.pattern))
        = keyword_patterns.pattern

),

occurrences_with_preceding_text as (

    select
        *,
        {{ dbt.right('substring(spelling, 1, word_start - 1)', 24) }} as preceding_text
    from keyword_occurrences

),

negated_spans as (

    {# a keyword right after a negation cue, and every keyword inside it ("not too small"
       also negates "small") #}
    select distinct
        occurrences.reason_text_normalised,
        occurrences.spelling,
        occurrences.word_start,
        occurrences.word_end
    from occurrences_with_preceding_text as occurrences
    inner join negation_cues
        on {{ dbt.right('occurrences.preceding_text', 3) }} = negation_cues.cue_tail
    where
        {{ dbt.right('occurrences.preceding_text', 'length(negation_cues.cue_pattern)') }}
        = negation_cues.cue_pattern

),

negated_occurrences as (

    select distinct
        occurrences.reason_text_normalised,
        occurrences.spelling,
        occurrences.start_position,
        occurrences.keyword
    from keyword_occurrences as occurrences
    inner join negated_spans as spans
        on
            occurrences.reason_text_normalised = spans.reason_text_normalised
            and occurrences.spelling = spans.spelling
    where
        occurrences.word_start >= spans.word_start
        and occurrences.word_end <= spans.word_end

),

keyword_matches as (

    {# a keyword counts for a text when one occurrence in one spelling is not negated #}
    select distinct
        occurrences.reason_text_normalised,
        occurrences.keyword,
        occurrences.pattern,
        occurrences.reason,
        occurrences.priority,
        occurrences.precedence
    from keyword_occurrences as occurrences
    left join negated_occurrences as negated
        on
            occurrences.reason_text_normalised = negated.reason_text_normalised
            and occurrences.spelling = negated.spelling
            and occurrences.start_position = negated.start_position
            and occurrences.keyword = negated.keyword
    where negated.keyword is null

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

),

return_lines_mapped as (

    select
        return_lines_normalised.rma_id,
        return_lines_normalised.order_line_id,
        return_lines_normalised.order_id,
        return_lines_normalised.sku,
        return_lines_normalised.reason_code,
        return_lines_normalised.reason_text,
        return_lines_normalised.condition_grade,
        return_lines_normalised.disposition,
        return_lines_normalised.resolution,
        return_lines_normalised.source_status,
        return_lines_normalised.returned_quantity,
        return_lines_normalised.refund_amount_eur,
        return_lines_normalised.is_refunded,
        return_lines_normalised.is_writer_known,
        return_lines_normalised.requested_date,
        return_lines_normalised.requested_at,
        return_lines_normalised.received_at,
        return_lines_normalised.inspected_at,
        return_lines_normalised.refunded_at,
        return_lines_normalised.reason_code_normalised,
        return_lines_normalised.reason_text_normalised,
        coalesce(
            normalised_code_map.reason,
            normalised_text_map.reason,
            texts_mapped_by_keywords.reason,
            'unknown'
        ) as reason,
        case
            when normalised_code_map.reason is not null then 'reason_code'
            when normalised_text_map.reason is not null then 'reason_text'
            when texts_mapped_by_keywords.reason is not null then 'reason_keywords'
            when return_lines_normalised.reason_text_normalised is not null
                then 'unmapped_text'
            when normalised_code_map.is_known_code then 'reason_code'
            when return_lines_normalised.reason_code_normalised is not null
                then 'unmapped_code'
            else 'missing'
        end as reason_source,
        coalesce(normalised_text_map.reason, texts_mapped_by_keywords.reason)
            as reason_from_text,
        case
            when
                normalised_text_map.reason is null
                and texts_mapped_by_keywords.reason is null
                then texts_mapped_by_keywords.reason_below_threshold
        end as reason_suggested_by_keywords
    from return_lines_normalised
    left join normalised_code_map
        on return_lines_normalised.reason_code_normalised = normalised_code_map.reason_code
    left join normalised_text_map
        on
            return_lines_normalised.reason_text_normalised
            = normalised_text_map.reason_text_normalised
    left join texts_mapped_by_keywords
        on
            return_lines_normalised.reason_text_normalised
            = texts_mapped_by_keywords.reason_text_normalised

)

select * from return_lines_mapped
