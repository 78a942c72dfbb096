{#
    Completeness of the returns per order month, judged against the data's own history: a
    mature month (its return window closed, see kpi_return_rates_by_order_cohort) whose
    share of orders with a return falls below the median share of the mature months by more
    than the tolerance
    has lost returns, almost always a returns file of the period that was not loaded (a
    format or name the returns contract does not recognise, or a missing delivery). The GX
    suite rpt_return_completeness fails the run on such a month with this mart's message.

    Orders, not units, are compared: one bulk line of hundreds of units (a business customer)
    moves a month's unit return rate far more than a lost returns file does, while the share of
    orders with a return is as stable for a shop of pallets as for a shop of T-shirts.
    Settings (dbt vars): return_completeness_tolerance (0.5: a month may fall to half the
    median), return_completeness_min_months (3 mature months before the check applies),
    return_completeness_min_expected_orders (20: months with fewer expected orders with a
    return are too small to judge). Immature months are not judged (their returns are still
    coming in).
#}
{%- set tolerance = var('return_completeness_tolerance', 0.5) %}
{%- set min_months = var('return_completeness_min_months', 3) %}
{%- set min_expected = var('return_completeness_min_expected_orders', 20) %}
with

cohorts as (

    select * from {{ ref('kpi_return_rates_by_order_cohort') }}
    where period_grain = 'month' and slice_type = 'all'

),

history as (

    select
        count(*) as mature_months,
        {{ percentile('return_rate_orders', 0.5) }} as reference_return_rate
    from cohorts
    where is_cohort_mature and orders > 0

),

judged as (

    select
        cohorts.period_start_date,
        cohorts.period_end_date,
        cohorts.orders,
        cohorts.orders_with_return,
        cohorts.return_rate_orders,
        cohorts.is_cohort_mature as is_mature,
        history.mature_months,
        history.reference_return_rate,
        history.reference_return_rate * cohorts.orders as expected_orders_with_return,
        cohorts.return_rate_orders / nullif(history.reference_return_rate, 0)
            as ratio_to_reference,
        case
            when not cohorts.is_cohort_mature then 'not_mature'
            when history.mature_months < {{ min_months }} then 'not_enough_history'
            when
                not coalesce(history.reference_return_rate > 0, false)
                or history.reference_return_rate * cohorts.orders < {{ min_expected }}
                then 'too_small'
            when
                cohorts.return_rate_orders
                < history.reference_return_rate * (1 - {{ tolerance }})
                then 'collapsed'
            else 'ok'
        end as status
    from cohorts
    cross join history

),

final as (

    select
        cast(period_start_date as date) as period_start_date,
        cast(period_end_date as date) as period_end_date,
        cast(orders as bigint) as orders,
        cast(orders_with_return as bigint) as orders_with_return,
        cast(return_rate_orders as double) as return_rate_orders,
        is_mature,
        cast(mature_months as bigint) as mature_months,
        cast(reference_return_rate as double) as reference_return_rate,
        cast(expected_orders_with_return as double) as expected_orders_with_return,
        cast(ratio_to_reference as double) as ratio_to_reference,
        cast({{ tolerance }} as double) as tolerance_share,
        cast(status as string) as status,
        cast(
            case
                when status = 'collapsed'
                    then {{ dbt.concat([
                        "'Returns of orders placed in '",
                        "substring(cast(period_start_date as string), 1, 7)",
                        "' look incomplete: '", "cast(orders_with_return as string)",
                        "' of '", "cast(orders as string)", "' orders had a return ('",
                        "cast(round(100 * return_rate_orders, 1) as string)",
                        "' %) against '",
                        "cast(round(100 * reference_return_rate, 1) as string)",
                        "' % in the median mature month (about '",
                        "cast(cast(round(expected_orders_with_return, 0) as bigint) as string)",
                        "' expected). Check for a returns file of the period that was "
                        ~ "not loaded (a file in a format or with a name the returns contract "
                        ~ "does not recognise, or a missing delivery: see the load audit on "
                        ~ "Data health), or change the tolerance with dbt var "
                        ~ "return_completeness_tolerance (now '",
                        "cast(" ~ tolerance ~ " as string)", "')'",
                    ]) }}
            end as string
        ) as message
    from judged

)

select * from final
