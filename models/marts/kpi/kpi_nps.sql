{#
    NPS and average rating per period grain (of the answer date), slice and respondent
    segment: everyone, customers who had returned something by the time they answered vs
    those who had not, and answers after a fast vs a slow refund of the surveyed order.
#}
with

nps_responses as (

    select * from {{ ref('int_nps_responses_sliced') }}

),

grains as (

    {{ period_grains() }}

),

responses_in_segments as (

    select
        *,
        'all' as segment
    from nps_responses

    union all

    select
        *,
        case when is_returner then 'returner' else 'non_returner' end as segment
    from nps_responses

    union all

    select
        *,
        case refund_speed when 'slow' then 'slow_refund' else 'fast_refund' end as segment
    from nps_responses
    where refund_speed in ('fast', 'slow')

),

responses_aggregated_to_days as (

    select
        slice_type,
        slice_value,
        segment,
        responded_date,
        count(*) as nps_responses,
        sum(case when is_promoter then 1 else 0 end) as promoters,
        sum(case when is_detractor then 1 else 0 end) as detractors,
        count(rating) as ratings,
        sum(coalesce(rating, 0)) as rating_total
    from responses_in_segments
    group by 1, 2, 3, 4

),

days_rolled_up_to_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'daily.responded_date') }}
            as period_start_date,
        daily.slice_type,
        daily.slice_value,
        daily.segment,
        sum(daily.nps_responses) as nps_responses,
        sum(daily.promoters) as promoters,
        sum(daily.detractors) as detractors,
        sum(daily.ratings) as ratings,
        sum(daily.rating_total) as rating_total
    from responses_aggregated_to_days as daily
    cross join grains
    group by 1, 2, 3, 4, 5

),

final as (

    select
        cast(period_grain as string) as period_grain,
        cast(slice_type as string) as slice_type,
        cast(slice_value as string) as slice_value,
        cast(segment as string) as segment,
        cast(nps_responses as bigint) as nps_responses,
        cast(promoters as bigint) as promoters,
        cast(nps_responses - promoters - detractors as bigint) as passives,
        cast(detractors as bigint) as detractors,
        cast(
            100.0 * (promoters - detractors) / nullif(nps_responses, 0) as double
        ) as nps,
        cast(ratings as bigint) as ratings,
        cast(cast(rating_total as double) / nullif(ratings, 0) as double) as avg_rating,
        cast(period_start_date as date) as period_start_date,
        cast({{ period_end_date('period_grain', 'period_start_date') }} as date)
            as period_end_date
    from days_rolled_up_to_periods

)

select * from final
