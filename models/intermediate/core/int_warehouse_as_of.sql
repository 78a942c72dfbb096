{#
    The data's as-of moment: the latest order or return request seen. One row, always
    (null values when there is no data). Cohort maturity is judged against it, not against
    the wall clock, so a rebuild of old data gives the same answer.
#}
{#
    A table (issue 16): one row read by 13 marts and 9 tests; as a view each of them
    rescanned every order and return line to find it. No free text, no customer data.
#}
{{ config(materialized='table') }}
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

return_lines as (

    {# the stored return lines: a scan of stg_returns__return_lines masks every text #}
    select * from {{ ref('int_return_lines_mapped_to_reasons') }}

),

activity_timestamps as (

    select ordered_at as seen_at from orders

    union all

    select requested_at as seen_at from return_lines

),

final as (

    select
        max(seen_at) as as_of_at,
        cast(max(seen_at) as date) as as_of_date
    from activity_timestamps

)

select * from final
