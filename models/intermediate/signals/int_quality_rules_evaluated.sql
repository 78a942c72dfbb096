{#
    Four alert rules per quality subject (product, supplier, batch), as the data stands now
    and since when each holds. Grain: one row per subject_level x subject_id x alert_rule.
      return_rate     lines with a return / lines
      defect_damage   lines with a defect or transit-damage return / lines
      runs_small      'size too small' return lines / return lines
      runs_large      'size too large' return lines / return lines
    A subject is tested on a rule when it has enough evidence (trials >= a minimum sample) and a
    baseline. The test is one-sided: is its true rate above baseline x quality_min_lift (the
    materiality margin)? Its p-value is the binomial tail, from the continuity-corrected signed
    root of the deviance (binomial_signed_root, normal_upper_tail). The false-discovery rate is
    controlled per level and rule with Benjamini-Hochberg: the subjects tested are ranked by
    p-value, q_value is the adjusted p-value, and the rule holds when q_value <=
    quality_fdr_q and successes >= quality_min_returns. So a shop with 5,000 suppliers is held
    to the same share of false alarms among its alerts as one with 25.
    The baseline leaves the subject out: the rest of its subcategory (product), category
    (supplier) or the product's other batches (batch), the latter shrunk toward the rest of the
    subcategory with a prior weight of quality_batch_prior_lines lines, so a product with few or
    spotless other batches does not give a baseline of 0. A subject whose lines span several
    scopes (a supplier with products in several categories) gets the mix of its scopes'
    baselines, weighted by its own trials in each (its order lines when it has no trials);
    category and subcategory are those of its main scope (most order lines, ties by name).
    The rule is evaluated every order week on running totals: the family of a week is every
    subject tested by then, with its totals as of that week. since_week_start_date is the first
    week of the unbroken run of weeks up to now in which the rule held; is_holding is the
    verdict of the latest week (every subject's totals).
#}
{%- set measures = [
    'order_lines', 'returned_lines', 'defect_damage_lines', 'return_lines',
    'too_small_return_lines', 'too_large_return_lines'
] %}
{%- set rules = [
    ('return_rate', 'returned_lines', 'order_lines'),
    ('defect_damage', 'defect_damage_lines', 'order_lines'),
    ('runs_small', 'too_small_return_lines', 'return_lines'),
    ('runs_large', 'too_large_return_lines', 'return_lines'),
] %}
with

subject_scope_weeks as (

    select * from {{ ref('int_quality_subjects_aggregated_to_weeks') }}

),

subject_scopes as (

    select
        subject_level,
        subject_id,
        baseline_scope_id,
        min(category) as category,
        min(subcategory) as subcategory,
        {% for measure in measures %}
            sum({{ measure }}) as {{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from subject_scope_weeks
    group by 1, 2, 3

),

main_scopes as (

    select
        subject_level,
        subject_id,
        baseline_scope_id,
        category,
        subcategory,
        row_number() over (
            partition by subject_level, subject_id
            order by order_lines desc, baseline_scope_id asc
        ) as scope_rank
    from subject_scopes

),

scope_totals as (

    select
        subject_level,
        baseline_scope_id,
        {% for measure in measures %}
            sum({{ measure }}) as {{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from subject_scopes
    group by 1, 2

),

subcategory_totals as (

    select
        baseline_scope_id as subcategory,
        {% for measure in measures %}
            {{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from scope_totals
    where subject_level = 'product'

),

scope_baselines as (

    {% for alert_rule, successes, trials in rules %}
        select
            subjects.subject_level,
            subjects.subject_id,
            subjects.baseline_scope_id,
            '{{ alert_rule }}' as alert_rule,
            subjects.{{ trials }} as subject_trials,
            subjects.order_lines as subject_order_lines,
            scope_totals.{{ trials }} - subjects.{{ trials }} as baseline_trials,
            case
                when subjects.subject_level = 'batch'
                    then (
                        scope_totals.{{ successes }} - subjects.{{ successes }}
                        + {{ signal_var('quality_batch_prior_lines') }}
                        * cast(
                            subcategory_totals.{{ successes }} - subjects.{{ successes }}
                            as double
                        )
                        / nullif(subcategory_totals.{{ trials }} - subjects.{{ trials }}, 0)
                    ) / (
                        scope_totals.{{ trials }} - subjects.{{ trials }}
                        + {{ signal_var('quality_batch_prior_lines') }}
                    )
                else
                    cast(scope_totals.{{ successes }} - subjects.{{ successes }} as double)
                    / nullif(scope_totals.{{ trials }} - subjects.{{ trials }}, 0)
            end as scope_rate
        from subject_scopes as subjects
        inner join scope_totals
            on
                subjects.subject_level = scope_totals.subject_level
                and subjects.baseline_scope_id = scope_totals.baseline_scope_id
        left join subcategory_totals
            on subjects.subcategory = subcategory_totals.subcategory
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

baselines as (

    select
        subject_level,
        subject_id,
        alert_rule,
        case
            when subject_level = 'product' then 'subcategory'
            when subject_level = 'supplier' then 'category'
            else 'other_batches'
        end as baseline_scope,
        case
            when count(*) = 1 then max(scope_rate)
            when sum(case when scope_rate is not null then subject_trials else 0 end) > 0
                then
                    sum(subject_trials * scope_rate)
                    / sum(case when scope_rate is not null then subject_trials else 0 end)
            else
                sum(subject_order_lines * scope_rate)
                / nullif(
                    sum(case when scope_rate is not null then subject_order_lines else 0 end), 0
                )
        end as baseline_rate,
        sum(baseline_trials) as baseline_trials
    from scope_baselines
    group by 1, 2, 3

),

subject_weeks as (

    select
        subject_level,
        subject_id,
        order_week_start_date,
        {% for measure in measures %}
            sum({{ measure }}) as {{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from subject_scope_weeks
    group by 1, 2, 3

),

subject_weeks_cumulated as (

    select
        subject_level,
        subject_id,
        order_week_start_date,
        {% for measure in measures %}
            sum({{ measure }}) over (
                partition by subject_level, subject_id
                order by order_week_start_date
                rows between unbounded preceding and current row
            ) as cumulative_{{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from subject_weeks

),

rule_inputs as (

    {% for alert_rule, successes, trials in rules %}
        select
            weeks.subject_level,
            weeks.subject_id,
            weeks.order_week_start_date,
            '{{ alert_rule }}' as alert_rule,
            weeks.cumulative_{{ successes }} as successes,
            weeks.cumulative_{{ trials }} as trials,
            {% if trials == 'order_lines' %}
                case
                    when weeks.subject_level = 'batch'
                        then {{ signal_var('quality_min_batch_lines') }}
                    else {{ signal_var('quality_min_lines') }}
                end as min_trials
            {% else %}
                {{ signal_var('sizing_min_size_returns') }} as min_trials
            {% endif %}
        from subject_weeks_cumulated as weeks
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

rules_by_week as (

    select
        rule_inputs.*,
        main_scopes.category,
        main_scopes.subcategory,
        main_scopes.baseline_scope_id,
        baselines.baseline_scope,
        baselines.baseline_rate,
        baselines.baseline_trials,
        cast(rule_inputs.successes as double) / nullif(rule_inputs.trials, 0) as rate,
        {{ wilson_bound('rule_inputs.successes', 'rule_inputs.trials', 'lower') }}
            as rate_lower_95,
        {{ wilson_bound('rule_inputs.successes', 'rule_inputs.trials', 'upper') }}
            as rate_upper_95,
        baselines.baseline_rate * {{ signal_var('quality_min_lift') }} as tested_rate,
        coalesce(
            rule_inputs.trials >= rule_inputs.min_trials and baselines.baseline_rate is not null,
            false
        ) as is_tested,
        lead(rule_inputs.order_week_start_date) over (
            partition by rule_inputs.subject_level, rule_inputs.subject_id, rule_inputs.alert_rule
            order by rule_inputs.order_week_start_date
        ) as next_week_start_date
    from rule_inputs
    inner join baselines
        on
            rule_inputs.subject_level = baselines.subject_level
            and rule_inputs.subject_id = baselines.subject_id
            and rule_inputs.alert_rule = baselines.alert_rule
    inner join main_scopes
        on
            rule_inputs.subject_level = main_scopes.subject_level
            and rule_inputs.subject_id = main_scopes.subject_id
            and main_scopes.scope_rank = 1

),

rules_scored as (

    select
        *,
        {{ binomial_signed_root('successes', 'trials', 'tested_rate') }} as signed_root
    from rules_by_week

),

rules_with_p_values as (

    select
        *,
        {{ normal_upper_tail('signed_root') }} as p_value
    from rules_scored

),

evaluation_weeks as (

    select distinct order_week_start_date as evaluation_week_start_date
    from subject_weeks

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

    select max(evaluation_week_start_date) as evaluation_week_start_date
    from evaluation_weeks

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
