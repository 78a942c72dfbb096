{#
    Every return line with its standard reason. The portal's reason code wins when present
    and known; otherwise the normalised free text is looked up in the variant map (exact
    texts), then in the multilingual keyword rules (macros reason_text_spellings,
    reason_keywords_found_in_texts and reason_texts_mapped_to_keywords: the keywords of
    reason_keywords found in the folded text and its spellings, negated occurrences left out,
    the highest priority and precedence winning), once per distinct text; anything else is
    `unknown`. reason_source says which rule decided, so nothing is dropped silently.

    A table, not a view (issue 16): the mapping (the masking of stg_returns__return_lines,
    read twice, and the keyword rules over every distinct text) ran again on every scan by
    int_return_lines_mapped_to_states and its readers, rpt_unmapped_reason_texts and the data
    tests (2.7 s of CPU per scan at 1M order lines; a not_null test 136 s at 10M). A table is
    on disk outside raw, so it keeps the text of known writers only: a return whose writer is
    unknown (is_writer_known false: nobody's name could be masked) is mapped from its text
    here, then its reason_text and reason_text_normalised are null (docs/security.md). No
    reader uses those texts; fct_returns and rpt_unmapped_reason_texts publish known
    writers' texts only. It carries the platforms' actual parcel amounts for
    int_return_lines_costed, which so need not scan (and mask) the view again.

    The view is read once (issue 16): the keyword rules were views over it too, so every
    return line was masked twice per build (27 s at 10M order lines). They are macros now,
    fed this model's distinct normalised texts (return_lines_normalised is read twice; DuckDB
    materialises such a CTE once).
#}
{{ config(materialized='table') }}
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
        delivered_order_line_id,
        sku,
        reason_code,
        reason_text,
        condition_grade,
        disposition,
        resolution,
        source_status,
        returned_quantity,
        refund_amount_eur,
        refund_amount_original,
        currency_code,
        exchange_rate,
        is_refunded,
        is_order_line_matched_by_sku,
        is_writer_known,
        actual_label_cost_eur,
        actual_return_fee_eur,
        requested_date,
        requested_at,
        received_at,
        inspected_at,
        refunded_at,
        nullif(upper(trim(reason_code)), '') as reason_code_normalised,
        {{ normalise_text('reason_text') }} as reason_text_normalised
    from return_lines

),

distinct_texts as (

    select distinct reason_text_normalised
    from return_lines_normalised
    where reason_text_normalised is not null

),

{{ reason_text_spellings('distinct_texts') }},

{{ reason_keywords_found_in_texts('text_spellings') }},

{{ reason_texts_mapped_to_keywords('keyword_matches') }},

return_lines_mapped as (

    select
        return_lines_normalised.rma_id,
        return_lines_normalised.order_line_id,
        return_lines_normalised.order_id,
        return_lines_normalised.delivered_order_line_id,
        return_lines_normalised.sku,
        return_lines_normalised.reason_code,
        {# the text of a known writer only: the unknown writer's name was not masked #}
        case
            when return_lines_normalised.is_writer_known
                then return_lines_normalised.reason_text
        end as reason_text,
        return_lines_normalised.condition_grade,
        return_lines_normalised.disposition,
        return_lines_normalised.resolution,
        return_lines_normalised.source_status,
        return_lines_normalised.returned_quantity,
        return_lines_normalised.refund_amount_eur,
        return_lines_normalised.refund_amount_original,
        return_lines_normalised.currency_code,
        return_lines_normalised.exchange_rate,
        return_lines_normalised.is_refunded,
        return_lines_normalised.is_order_line_matched_by_sku,
        return_lines_normalised.is_writer_known,
        return_lines_normalised.actual_label_cost_eur,
        return_lines_normalised.actual_return_fee_eur,
        return_lines_normalised.requested_date,
        return_lines_normalised.requested_at,
        return_lines_normalised.received_at,
        return_lines_normalised.inspected_at,
        return_lines_normalised.refunded_at,
        return_lines_normalised.reason_code_normalised,
        case
            when return_lines_normalised.is_writer_known
                then return_lines_normalised.reason_text_normalised
        end as reason_text_normalised,
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
