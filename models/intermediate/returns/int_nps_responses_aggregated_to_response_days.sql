{#
    NPS answers per KPI slice (int_nps_responses_sliced) and day of the response, for
    kpi_returns_by_request_date: responses, promoters, detractors, and the ratings given with
    their total (for an average rating).
#}
with

nps_responses as (

    select * from {{ ref('int_nps_responses_sliced') }}

),

nps_aggregated_to_days as (

    select
        slice_type,
        slice_value,
        responded_date as activity_date,
        count(*) as nps_responses,
        sum(case when is_promoter then 1 else 0 end) as promoters,
        sum(case when is_detractor then 1 else 0 end) as detractors,
        count(rating) as ratings,
        sum(coalesce(rating, 0)) as rating_total
    from nps_responses
    group by 1, 2, 3

)

select * from nps_aggregated_to_days
