{#
    The verdict of every alert rule on every quality subject tested, week by week. Grain: one
    row per evaluation week x subject_level x subject_id x alert_rule, for the subjects tested
    by then (is_tested in int_quality_rules_scored_by_week).
    Every order week, the family of a level and rule is every subject tested by then, with its
    running totals as of that week. The false-discovery rate is controlled per family with
    Benjamini-Hochberg: the subjects are ranked by p-value, q_value is the adjusted p-value,
    and the rule holds when q_value <= quality_fdr_q and successes >= quality_min_returns. So
    a shop with 5,000 suppliers is held to the same share of false alarms among its alerts as
    one with 25.
#}
with

subject_scope_weeks as (

    select * from {{ ref('int_quality_subjects_aggregated_to_weeks') }}

),

rules_with_p_values as (

    select * from {{ ref('int_quality_rules_scored_by_week') }}

),

evaluation_weeks as (

    select distinct order_week_start_date as evaluation_week_start_date
    from subject_scope_weeks

),

families as (

    {#- Every week, the family of a level and rule is every subject with enough evidence by
        then, each with its running totals as of that week (its latest week with lines). #}
    select
        evaluation_weeks.evaluation_week_start_date,
        tested.subject_level,
        tested.subject_id,
        tested.alert_rule,
        tested.successes,
        tested.p_value
    from rules_with_p_values as tested
    inner join evaluation_weeks
        on
            tested.order_week_start_date <= evaluation_weeks.evaluation_week_start_date
            and (
                tested.next_week_start_date is null
                or tested.next_week_start_date > evaluation_weeks.evaluation_week_start_date
            )
    where tested.is_tested

),

families_ranked as (

    select
        *,
        row_number() over (
            partition by subject_level, alert_rule, evaluation_week_start_date
            order by p_value asc, subject_id asc
        ) as p_value_rank,
        count(*) over (
            partition by subject_level, alert_rule, evaluation_week_start_date
        ) as family_tests
    from families

),

families_adjusted as (

    {#- Benjamini-Hochberg adjusted p-value (q-value): min over ranks j >= k of m * p(j) / j.
        A rule holds for the subjects with q-value <= quality_fdr_q, i.e. ranks up to the
        largest k with p(k) <= k / m * q. #}
    select
        *,
        least(
            1.0,
            min(cast(family_tests as double) * p_value / p_value_rank) over (
                partition by subject_level, alert_rule, evaluation_week_start_date
                order by p_value_rank desc
                rows between unbounded preceding and current row
            )
        ) as q_value
    from families_ranked

),

weekly_verdicts as (

    select
        *,
        q_value <= {{ signal_var('quality_fdr_q') }}
        and successes >= {{ signal_var('quality_min_returns') }} as is_holding
    from families_adjusted

)

select * from weekly_verdicts
