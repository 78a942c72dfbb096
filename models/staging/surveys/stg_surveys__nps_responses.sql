with

source as (

    select * from {{ source('surveys', 'nps_responses') }}

),

renamed as (

    select

        ---------- ids
        response_id,
        {{ hash_customer_id('customer_id') }} as customer_key,
        order_id,

        ---------- strings
        touchpoint,
        case
            when score >= 9 then 'promoter'
            when score >= 7 then 'passive'
            else 'detractor'
        end as nps_group,
        {{ mask_personal_data("comment") }} as comment_text,

        ---------- numerics
        score,
        rating,

        ---------- booleans
        score >= 9 as is_promoter,
        score <= 6 as is_detractor,

        ---------- dates
        cast(responded_at as date) as responded_date,

        ---------- timestamps
        responded_at

    from source

)

select * from renamed
