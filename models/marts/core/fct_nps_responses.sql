{#
    One row per NPS survey response, with what the customer had been through by the time
    they answered: had they registered a return (any order), and for the surveyed order the
    latest refund issued before the answer and whether it took longer than slow_refund_days
    ('unknown' when the returns export carries no refunded_at at all: refund speed cannot be
    measured, and 'no_refund' would look like data).
    The free-text comment is left out (it may hold personal data).
#}
with

nps_responses as (

    select * from {{ ref('stg_surveys__nps_responses') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

return_lines as (

    select * from {{ ref('fct_returns') }}

),

returns_aggregated_to_rmas as (

    select
        order_id,
        rma_id,
        min(requested_at) as requested_at,
        max(refunded_at) as refunded_at
    from return_lines
    where refunded_at is not null
    group by 1, 2

),

first_returns_per_customer as (

    select
        customer_key,
        min(requested_at) as first_return_requested_at
    from return_lines
    where customer_key is not null
    group by 1

),

refunds_before_responses as (

    select
        nps_responses.response_id,
        rmas.rma_id,
        rmas.requested_at,
        rmas.refunded_at,
        row_number() over (
            partition by nps_responses.response_id
            order by rmas.refunded_at desc, rmas.rma_id desc
        ) as refund_recency
    from nps_responses
    inner join returns_aggregated_to_rmas as rmas
        on
            nps_responses.order_id = rmas.order_id
            and nps_responses.responded_at >= rmas.refunded_at

),

latest_refunds_before_responses as (

    select * from refunds_before_responses
    where refund_recency = 1

),

refund_timestamps_delivered as (

    select count(*) > 0 as has_refund_timestamps
    from return_lines
    where refunded_at is not null

),

final as (

    select
        cast(nps_responses.response_id as string) as response_id,
        cast(nps_responses.customer_key as string) as customer_key,
        cast(nps_responses.order_id as string) as order_id,
        cast(refunds.rma_id as string) as refund_rma_id,
        cast(nps_responses.touchpoint as string) as touchpoint,
        cast(nps_responses.nps_group as string) as nps_group,
        cast(orders.channel as string) as channel,
        cast(
            case
                when not refund_timestamps_delivered.has_refund_timestamps then 'unknown'
                when refunds.rma_id is null then 'no_refund'
                when
                    refunds.refunded_at
                    > {{ dbt.dateadd('day', var('slow_refund_days'), 'refunds.requested_at') }}
                    then 'slow'
                else 'fast'
            end as string
        ) as refund_speed,
        cast(nps_responses.score as bigint) as score,
        cast(nps_responses.rating as bigint) as rating,
        cast(
            case
                when nps_responses.is_promoter then 100
                when nps_responses.is_detractor then -100
                else 0
            end as bigint
        ) as nps_points,
        cast(
            {{ dbt.datediff('refunds.requested_at', 'refunds.refunded_at', 'second') }}
            / 86400.0 as double
        ) as refund_days,
        nps_responses.is_promoter,
        nps_responses.is_detractor,
        coalesce(
            first_returns.first_return_requested_at <= nps_responses.responded_at, false
        ) as is_returner,
        cast(orders.ordered_date as date) as ordered_date,
        cast(nps_responses.responded_date as date) as responded_date,
        cast(nps_responses.responded_at as timestamp) as responded_at
    from nps_responses
    left join orders
        on nps_responses.order_id = orders.order_id
    left join first_returns_per_customer as first_returns
        on nps_responses.customer_key = first_returns.customer_key
    left join latest_refunds_before_responses as refunds
        on nps_responses.response_id = refunds.response_id
    cross join refund_timestamps_delivered

)

select * from final
