{#
    Free text leaves raw masked: contact data, IBANs and addresses by pattern
    (mask_personal_data), and the customer's own first and last name (mask_customer_name),
    looked up through the order in raw: the only joins in staging, there so that names never
    leave raw. Left joins on unique keys: every return line stays, exactly once. A name that
    is also a word of the reason vocabulary (the surnames Groot, Klein, Lang) is not masked,
    or "te groot" would lose its reason (macro customer_names_that_are_reason_words).

    A returns platform names the order line its own way (Sendcloud `order_number-sku`, bol.com
    `orderId-ean`): a return line whose order_line_id is not an order line of raw takes the
    order line matched by order and sku in stg_returns__order_line_matches (a table, so the
    matching runs once per run, not on every scan of this view). The delivered id is kept
    (delivered_order_line_id); a return line that matches nothing keeps it and stays an
    orphan, counted in rpt_referential_integrity.

    The refund is in the currency of the line's order: converted into the reporting currency
    with the order's exchange rate (stg_exchange_rates__order_rates, half-up to the cent), the
    delivered amount kept as refund_amount_original; return lines of an order without a rate
    are held back with it (rpt_currency_conversions blocks the publish); without a known order
    the refund is taken in the reporting currency.
#}
{% set reporting_currency = "'" ~ var("reporting_currency") ~ "'" %}

with

delivered as (

    select * from {{ source('returns', 'returns') }}

),

order_line_matches as (

    select * from {{ ref('stg_returns__order_line_matches') }}

),

source as (

    select
        delivered.*,
        delivered.order_line_id as delivered_order_line_id,
        coalesce(matches.order_line_id, delivered.order_line_id) as matched_order_line_id,
        coalesce(matches.order_id, delivered.order_id) as matched_order_id,
        matches.order_line_id is not null as is_order_line_matched_by_sku
    from delivered
    left join order_line_matches as matches
        on
            delivered.rma_id = matches.rma_id
            and delivered.order_line_id = matches.delivered_order_line_id

),

customer_ids_by_email as (

    {{ customer_ids_by_email(source('shop', 'customers')) }}

),

orders as (

    select
        raw_orders.order_id,
        coalesce(customer_ids_by_email.customer_id, raw_orders.customer_id) as customer_id
    from {{ source('shop', 'orders') }} as raw_orders
    left join customer_ids_by_email
        on raw_orders.customer_id = customer_ids_by_email.email_customer_id

),

order_rates as (

    select
        order_id as rate_order_id,
        currency_code as order_currency_code,
        exchange_rate as order_exchange_rate,
        is_missing_exchange_rate
    from {{ ref('stg_exchange_rates__order_rates') }}

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
    left join orders on source.matched_order_id = orders.order_id
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

reason_texts_masked_with_rates as (

    select
        reason_texts_masked.*,
        order_rates.order_currency_code,
        order_rates.order_exchange_rate
    from reason_texts_masked
    left join order_rates on reason_texts_masked.matched_order_id = order_rates.rate_order_id
    where not coalesce(order_rates.is_missing_exchange_rate, false)

),

renamed as (

    select

        ---------- ids
        rma_id,
        matched_order_line_id as order_line_id,
        matched_order_id as order_id,
        delivered_order_line_id,
        sku,

        ---------- strings
        reason_code,
        reason_text_masked as reason_text,
        coalesce(order_currency_code, {{ reporting_currency }}) as currency_code,
        condition_grade,
        disposition,
        resolution,
        {# the portal's status, normalised: lower case, '_' and '-' as spaces, trimmed #}
        {{ normalise_text("replace(replace(status, '_', ' '), '-', ' ')") }} as source_status,

        ---------- numerics
        quantity as returned_quantity,
        {{ convert_to_reporting_currency(
            'refund_amount_eur', 'coalesce(order_exchange_rate, 1)'
        ) }} as refund_amount_eur,
        refund_amount_eur as refund_amount_original,
        cast(coalesce(order_exchange_rate, 1) as decimal(18, 12)) as exchange_rate,
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
        is_order_line_matched_by_sku,
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

    from reason_texts_masked_with_rates

)

select * from renamed
