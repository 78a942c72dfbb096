{#
    Completeness of the returns per order month, judged against the data's own history: a
    mature month (its return window closed, see kpi_return_rates_by_order_cohort) whose
    return rate falls below the median rate of the mature months by more than the tolerance
    has lost returns, almost always a returns file of the period that was not loaded (a
    format or name the returns contract does not recognise, or a missing delivery). The GX
    suite rpt_return_completeness fails the run on such a month with this mart's message.

    Settings (dbt vars): return_completeness_tolerance (0.5: a month may fall to half the
    median), return_completeness_min_months (3 mature months before the check applies),
    return_completeness_min_expected_units (20: months too small to judge are skipped).
    Immature months are not judged (their returns are still coming in).
#}
{%- set tolerance = var('return_completeness_tolerance', 0.5) %}
{%- set min_months = var('return_completeness_min_months', 3) %}
{%- set min_expected = var('return_completeness_min_expected_units', 20) %}
with

cohorts as (

    select * from {{ ref('kpi_return_rates_by_order_cohort') }}
    where period_grain = 'month' and slice_type = 'all'

),

history as (

    select
        count(*) as mature_months,
        {{ percentile('return_rate_units', 0.5) }} as reference_return_rate
    from cohorts
    where is_cohort_mature and units_sold > 0

),

judged as (

    select
        cohorts.period_start_date,
        cohorts.period_end_date,
        cohorts.units_sold,
        cohorts.units_returned,
        cohorts.return_rate_units,
        cohorts.is_cohort_mature as is_mature,
        history.mature_months,
        history.reference_return_rate,
        history.reference_return_rate * cohorts.units_sold as expected_units_returned,
        cohorts.return_rate_units / nullif(history.reference_return_rate, 0)
            as ratio_to_reference,
        case
            when not cohorts.is_cohort_mature then 'not_mature'
            when history.mature_months < {{ min_months }} then 'not_enough_history'
            when
                not coalesce(history.reference_return_rate > 0, false)
                or history.reference_return_rate * cohorts.units_sold < {{ min_expected }}
                then 'too_small'
            when
                cohorts.return_rate_units
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
        cast(units_sold as bigint) as units_sold,
        cast(units_returned as bigint) as units_returned,
        cast(return_rate_units as double) as return_rate_units,
        is_mature,
        cast(mature_months as bigint) as mature_months,
        cast(reference_return_rate as double) as reference_return_rate,
        cast(expected_units_returned as double) as expected_units_returned,
        cast(ratio_to_reference as double) as ratio_to_reference,
        cast({{ tolerance }} as double) as tolerance_share,
        cast(status as string) as status,
        cast(
            case
                when status = 'collapsed'
                    then {{ dbt.concat([
                        "'Returns of orders placed in '",
                        "substring(cast(period_start_date as string), 1, 7)",
                        "' look incomplete: '", "cast(units_returned as string)",
                        "' of '", "cast(units_sold as string)", "' units returned ('",
                        "cast(round(100 * return_rate_units, 1) as string)",
                        "' %) against '",
                        "cast(round(100 * reference_return_rate, 1) as string)",
                        "' % in the median mature month (about '",
                        "cast(cast(round(expected_units_returned, 0) as bigint) as string)",
                        "' units expected). Check for a returns file of the period that was "
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
