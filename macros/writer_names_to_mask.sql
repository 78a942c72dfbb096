{#
    The writer's first and last name to mask in their own free text, beside every row of
    `rows` (which carries customer_first_name and customer_last_name): a name that is also a
    word of the reason vocabulary (the CTE `reason_words`, from
    customer_names_that_are_reason_words) is null, so masking leaves it alone. Returns a select
    of every column of `rows` plus last_name_to_mask and first_name_to_mask; use it as a CTE.
#}
{% macro writer_names_to_mask(rows, reason_words) -%}
    select
        texts.*,
        case
            when last_name_words.name is null then texts.customer_last_name
        end as last_name_to_mask,
        case
            when first_name_words.name is null then texts.customer_first_name
        end as first_name_to_mask
    from {{ rows }} as texts
    left join {{ reason_words }} as last_name_words
        on lower(trim(texts.customer_last_name)) = last_name_words.name
    left join {{ reason_words }} as first_name_words
        on lower(trim(texts.customer_first_name)) = first_name_words.name
{%- endmacro %}
