{#
    One row per calendar day from the first day of the month of the earliest event in the
    data (order, delivery, return step, survey response) to the last day of the month of the
    latest, with week, month and ISO calendar fields.
#}
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

return_lines as (

    {# the stored return lines: a scan of stg_returns__return_lines masks every text #}
    select * from {{ ref('int_return_lines_mapped_to_reasons') }}

),

nps_responses as (

    select * from {{ ref('stg_surveys__nps_responses') }}

),

event_dates as (

    select ordered_date as event_date from orders
    union all
    select delivered_date as event_date from orders
    union all
    select requested_date as event_date from return_lines
    union all
    select cast(refunded_at as date) as event_date from return_lines
    union all
    select cast(received_at as date) as event_date from return_lines
    union all
    select cast(inspected_at as date) as event_date from return_lines
    union all
    select responded_date as event_date from nps_responses

),

bounds as (

    select
        {{ month_start_date('min(event_date)') }} as start_date,
        cast({{ dbt.last_day('max(event_date)', 'month') }} as date) as end_date
    from event_dates
    having count(event_date) > 0

),

days as (

    select {{ date_series('start_date', 'end_date') }} as date_day
    from bounds

),

final as (

    select
        cast(date_day as date) as date_day,
        {{ week_start_date('date_day') }} as week_start_date,
        cast({{ dbt.dateadd('day', 6, week_start_date('date_day')) }} as date) as week_end_date,
        {{ month_start_date('date_day') }} as month_start_date,
        cast({{ dbt.last_day('date_day', 'month') }} as date) as month_end_date,
        cast(extract(year from date_day) as bigint) as calendar_year,
        cast(extract(quarter from date_day) as bigint) as calendar_quarter,
        cast(extract(month from date_day) as bigint) as calendar_month,
        cast(extract(day from date_day) as bigint) as day_of_month,
        {{ iso_date_part('year', 'date_day') }} as iso_year,
        {{ iso_date_part('week', 'date_day') }} as iso_week,
        {{ iso_date_part('day_of_week', 'date_day') }} as iso_day_of_week,
        {{ iso_date_part('day_of_week', 'date_day') }} >= 6 as is_weekend
    from days

)

select * from final
