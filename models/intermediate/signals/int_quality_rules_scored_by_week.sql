{#
    The four alert rules per quality subject (product, supplier, batch), scored on running
    totals every order week the subject has lines. Grain: one row per subject_level x
    subject_id x alert_rule x order week.
      return_rate     lines with a return / lines
      defect_damage   lines with a defect or transit-damage return / lines
      runs_small      'size too small' return lines / return lines
      runs_large      'size too large' return lines / return lines
    A subject is tested on a rule when it has enough evidence (trials >= a minimum sample) and a
    baseline (int_quality_baselines_estimated). The test is one-sided: is its true rate above
    baseline x quality_min_lift (the materiality margin)? Its p-value is the binomial tail,
    from the continuity-corrected signed root of the deviance (binomial_signed_root,
    normal_upper_tail).
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

baselines as (

    select * from {{ ref('int_quality_baselines_estimated') }}

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
        baselines.category,
        baselines.subcategory,
        baselines.baseline_scope_id,
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

)

select * from rules_with_p_values
