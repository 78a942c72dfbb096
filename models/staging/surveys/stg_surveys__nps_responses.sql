{#
    The comment leaves raw masked: contact data, IBANs and addresses by pattern
    (mask_personal_data), and the respondent's own first and last name (mask_customer_name),
    looked up in raw: the only join in staging, there so that names never leave raw. A left
    join on the customers' unique key: every response stays, exactly once.
#}
with

source as (

    select * from {{ source('surveys', 'nps_responses') }}

),

customers as (

    select
        customer_id,
        first_name,
        last_name
    from {{ source('shop', 'customers') }}

),

comments_masked_by_pattern as (

    select
        source.*,
        customers.first_name as customer_first_name,
        customers.last_name as customer_last_name,
        {{ mask_personal_data("source.comment") }} as comment_masked_by_pattern
    from source
    left join customers on source.customer_id = customers.customer_id

),

names_that_are_reason_words as (

    {{ customer_names_that_are_reason_words(
        "comments_masked_by_pattern", "comment_masked_by_pattern"
    ) }}

),

comments_masked_by_pattern_with_names_to_mask as (

    {{ writer_names_to_mask("comments_masked_by_pattern", "names_that_are_reason_words") }}

),

comments_without_last_name as (

    select
        *,
        {{ mask_customer_name("comment_masked_by_pattern", "last_name_to_mask") }}
            as comment_without_last_name
    from comments_masked_by_pattern_with_names_to_mask

),

comments_masked as (

    select
        *,
        {{ mask_customer_name("comment_without_last_name", "first_name_to_mask") }}
            as comment_masked
    from comments_without_last_name

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
        comment_masked as comment_text,

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

    from comments_masked

)

select * from renamed
