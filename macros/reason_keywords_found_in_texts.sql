{#
    CTEs (to place in a model's `with`, the last one named `keyword_matches`): the keywords of
    the reason_keywords seed (NL, EN, DE, FR phrases and stems) found in each distinct reason
    text, in any of its spellings (`text_spellings`: reason_text_normalised, spelling; macro
    reason_text_spellings):
    - keywords are substrings of a spelling ('_' marks a word boundary; a keyword without
      one also matches inside a compound: transportschaden, kapotgegaan); candidates come
      from an index on the first four characters of the keyword, so the cost grows with
      the text's length, not with the number of keywords;
    - an occurrence right after a negation cue (reason_negations: "niet te klein",
      "not too small", "nicht zu klein", "pas trop petit", "onbeschadigd") does not count,
      nor does any keyword inside it ("not too small" also negates "small").
    One row of keyword_matches per reason_text_normalised x keyword. A macro, not a model:
    see reason_text_spellings.
#}
{% macro reason_keywords_found_in_texts(text_spellings) -%}
reason_keywords as (

    select * from {{ ref('reason_keywords') }}

),

reason_negations as (

    select * from {{ ref('reason_negations') }}

),

reason_precedence as (

    select * from {{ ref('reason_precedence') }}

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

spelling_positions as (

    select
        reason_text_normalised,
        spelling,
        {{ explode_positions('length(spelling) - 3') }} as start_position
    from {{ text_spellings }}
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

)
{%- endmacro %}
