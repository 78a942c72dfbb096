{#
    Free text leaves raw masked: contact data, IBANs and addresses by pattern
    (mask_personal_data), and the customer's own first and last name (mask_customer_name),
    looked up through the order in raw: the only joins in staging, there so that names never
    leave raw. Left joins on unique keys: every return line stays, exactly once. A name that
    is also a word of the reason vocabulary (the surnames Groot, Klein, Lang) is not masked,
    or "te groot" would lose its reason (macro customer_names_that_are_reason_words).
#}
{% set reporting_currency = "'" ~ var("reporting_currency") ~ "'" %}

with

source as (

    select * from {{ source('returns', 'returns') }}

),

orders as (

    select
        order_id,
        customer_id
    from {{ source('shop', 'orders') }}

),

customers as (

    select
        customer_id,
        first_name,
        last_name
    from {{ source('shop', 'customers') }}

),

reason_texts_masked_by_pattern as (

    select
        source.*,
        customers.first_name as customer_first_name,
        customers.last_name as customer_last_name,
        {{ mask_personal_data("source.reason_text") }} as reason_text_masked_by_pattern
    from source
    left join orders on source.order_id = orders.order_id
    left join customers on orders.customer_id = customers.customer_id

),

names_that_are_reason_words as (

    {{ customer_names_that_are_reason_words(
        "reason_texts_masked_by_pattern", "reason_text_masked_by_pattern"
    ) }}

),

reason_texts_masked_by_pattern_with_names_to_mask as (

    {{ writer_names_to_mask("reason_texts_masked_by_pattern", "names_that_are_reason_words") }}

),

reason_texts_without_last_name as (

    select
        *,
        {{ mask_customer_name("reason_text_masked_by_pattern", "last_name_to_mask") }}
            as reason_text_without_last_name
    from reason_texts_masked_by_pattern_with_names_to_mask

),

reason_texts_masked as (

    select
        *,
        {{ mask_customer_name("reason_text_without_last_name", "first_name_to_mask") }}
            as reason_text_masked
    from reason_texts_without_last_name

),

renamed as (

    select

        ---------- ids
        rma_id,
        order_line_id,
        order_id,
        sku,

        ---------- strings
        reason_code,
        reason_text_masked as reason_text,
        condition_grade,
        disposition,
        resolution,
        {# the portal's status, normalised: lower case, '_' and '-' as spaces, trimmed #}
        {{ normalise_text("replace(replace(status, '_', ' '), '-', ' ')") }} as source_status,

        ---------- numerics
        quantity as returned_quantity,
        refund_amount_eur,
        {# actual parcel amounts a platform delivers (Sendcloud's label_cost, return_fee per
           return, repeated on its lines), kept by the loader in _extra; used only in the
           reporting currency (never converted here) #}
        case
            when {{ json_text('_extra', 'label_cost_currency') }} = {{ reporting_currency }}
                then cast({{ json_text('_extra', 'label_cost_value') }} as decimal(18, 2))
        end as actual_label_cost_eur,
        case
            when {{ json_text('_extra', 'return_fee_currency') }} = {{ reporting_currency }}
                then cast({{ json_text('_extra', 'return_fee_value') }} as decimal(18, 2))
        end as actual_return_fee_eur,

        ---------- booleans
        refunded_at is not null as is_refunded,
        {# the writer's own names were masked; without a known order nobody's were #}
        coalesce(
            customer_first_name is not null or customer_last_name is not null, false
        ) as is_writer_known,

        ---------- dates
        cast(requested_at as date) as requested_date,

        ---------- timestamps
        requested_at,
        received_at,
        inspected_at,
        refunded_at

    from reason_texts_masked

)

select * from renamed
