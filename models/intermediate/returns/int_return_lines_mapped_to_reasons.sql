{#
    Every return line with its standard reason. The portal's reason code wins when present
    and known; otherwise the normalised free text is looked up in the variant map (exact
    texts), then in the multilingual keyword rules (reason_keywords: NL, EN, DE, FR phrases
    and stems matched on whole words of the accent-folded text; the rule with the highest
    priority wins, then the longest keyword); anything else is `unknown`. reason_source says
    which rule decided, so nothing is dropped silently.
#}
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

normalised_code_map as (

    select
        upper(trim(reason_code)) as reason_code,
        reason
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
        reason,
        priority,
        {# '_' in a keyword stands for a word boundary (a space in the folded text) #}
        replace(keyword, '_', ' ') as pattern
    from reason_keywords

),

texts_folded as (

    select distinct
        reason_text_normalised,
        {{ fold_text('reason_text_normalised') }} as text_folded
    from return_lines_normalised
    where reason_text_normalised is not null

),

texts_folded_with_umlaut_spelling as (

    {# German written without umlauts (gefaellt, groesser) also matches gefallt, grosser #}
    select
        reason_text_normalised,
        text_folded,
        replace(replace(replace(text_folded, 'ae', 'a'), 'oe', 'o'), 'ue', 'u')
            as text_folded_umlauts_spelt_out
    from texts_folded

),

keyword_matches as (

    select
        texts.reason_text_normalised,
        keyword_patterns.reason,
        row_number() over (
            partition by texts.reason_text_normalised
            order by
                keyword_patterns.priority desc,
                length(keyword_patterns.pattern) desc,
                keyword_patterns.reason asc
        ) as match_rank
    from texts_folded_with_umlaut_spelling as texts
    inner join keyword_patterns
        on
            {{ dbt.position('keyword_patterns.pattern', 'texts.text_folded') }} > 0
            or {{ dbt.position(
                'keyword_patterns.pattern', 'texts.text_folded_umlauts_spelt_out'
            ) }} > 0

),

texts_mapped_by_keywords as (

    select
        reason_text_normalised,
        reason
    from keyword_matches
    where match_rank = 1

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
            when return_lines_normalised.reason_code_normalised is not null
                then 'unmapped_code'
            else 'missing'
        end as reason_source,
        coalesce(normalised_text_map.reason, texts_mapped_by_keywords.reason)
            as reason_from_text
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
