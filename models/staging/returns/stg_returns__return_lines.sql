with

source as (

    select * from {{ source('returns', 'returns') }}

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
        {{ mask_personal_data("reason_text") }} as reason_text,
        condition_grade,
        disposition,
        resolution,

        ---------- numerics
        quantity as returned_quantity,
        refund_amount_eur,

        ---------- booleans
        refunded_at is not null as is_refunded,

        ---------- dates
        cast(requested_at as date) as requested_date,

        ---------- timestamps
        requested_at,
        received_at,
        inspected_at,
        refunded_at

    from source

)

select * from renamed
