{#
    Four alert rules per quality subject (product, supplier, batch), as the data stands now
    and since when each holds. Grain: one row per subject_level x subject_id x alert_rule.
      return_rate     lines with a return / lines
      defect_damage   lines with a defect or transit-damage return / lines
      runs_small      'size too small' return lines / return lines
      runs_large      'size too large' return lines / return lines
    The baselines come from int_quality_baselines_estimated, the tests on running totals from
    int_quality_rules_scored_by_week (one-sided binomial test against baseline x
    quality_min_lift) and the weekly verdicts from int_quality_rules_judged_by_week
    (Benjamini-Hochberg per level, rule and week). This model keeps each subject's latest
    totals: since_week_start_date is the first week of the unbroken run of weeks up to now in
    which the rule held; is_holding is the verdict of the latest week (every subject's totals).

    A table (issue 16): read by int_quality_subjects_pivoted and sig_quality_alerts, each of
    which recomputed the weekly tests and verdicts on every scan (2.9 s of CPU per scan at 1M
    order lines). Aggregates per product, supplier and batch only.
#}
{{ config(materialized='table') }}
with

subject_scope_weeks as (

    select * from {{ ref('int_quality_subjects_aggregated_to_weeks') }}

),

rules_with_p_values as (

    select * from {{ ref('int_quality_rules_scored_by_week') }}

),

weekly_verdicts as (

    select * from {{ ref('int_quality_rules_judged_by_week') }}

),

streaks as (

    select
        subject_level,
        subject_id,
        alert_rule,
        max(case when not is_holding then evaluation_week_start_date end)
            as last_week_not_holding
    from weekly_verdicts
    group by 1, 2, 3

),

holding_since as (

    select
        weekly_verdicts.subject_level,
        weekly_verdicts.subject_id,
        weekly_verdicts.alert_rule,
        min(weekly_verdicts.evaluation_week_start_date) as since_week_start_date
    from weekly_verdicts
    inner join streaks
        on
            weekly_verdicts.subject_level = streaks.subject_level
            and weekly_verdicts.subject_id = streaks.subject_id
            and weekly_verdicts.alert_rule = streaks.alert_rule
    where
        weekly_verdicts.is_holding
        and (
            streaks.last_week_not_holding is null
            or weekly_verdicts.evaluation_week_start_date > streaks.last_week_not_holding
        )
    group by 1, 2, 3

),

latest_week as (

    select max(order_week_start_date) as evaluation_week_start_date
    from subject_scope_weeks

),

current_verdicts as (

    select weekly_verdicts.*
    from weekly_verdicts
    inner join latest_week
        on weekly_verdicts.evaluation_week_start_date = latest_week.evaluation_week_start_date

),

latest as (

    select
        *,
        row_number() over (
            partition by subject_level, subject_id, alert_rule
            order by order_week_start_date desc
        ) as weeks_from_latest
    from rules_with_p_values

),

final as (

    select
        latest.subject_level,
        latest.subject_id,
        latest.alert_rule,
        latest.baseline_scope_id,
        latest.baseline_scope,
        latest.category,
        latest.subcategory,
        latest.successes,
        latest.trials,
        latest.min_trials,
        latest.rate,
        latest.rate_lower_95,
        latest.rate_upper_95,
        latest.baseline_rate,
        latest.baseline_trials,
        latest.rate / nullif(latest.baseline_rate, 0) as lift,
        latest.tested_rate,
        latest.is_tested,
        case when latest.is_tested then latest.p_value end as p_value,
        current_verdicts.q_value,
        current_verdicts.family_tests,
        coalesce(current_verdicts.is_holding, false) as is_holding,
        case when current_verdicts.is_holding then holding_since.since_week_start_date end
            as since_week_start_date
    from latest
    left join current_verdicts
        on
            latest.subject_level = current_verdicts.subject_level
            and latest.subject_id = current_verdicts.subject_id
            and latest.alert_rule = current_verdicts.alert_rule
    left join holding_since
        on
            latest.subject_level = holding_since.subject_level
            and latest.subject_id = holding_since.subject_id
            and latest.alert_rule = holding_since.alert_rule
    where latest.weeks_from_latest = 1

)

select * from final
