{#
    Four alert rules per quality subject (product, supplier, batch), as the data stands now
    and since when each holds. Grain: one row per subject_level x subject_id x alert_rule.
      return_rate     lines with a return / lines
      defect_damage   lines with a defect or transit-damage return / lines
      runs_small      'size too small' return lines / return lines
      runs_large      'size too large' return lines / return lines
    A rule holds when the subject has enough evidence (trials >= a minimum sample and
    successes >= quality_min_returns) and the lower bound of the Wilson interval of its rate
    is above baseline x quality_min_lift. The interval is 95 % (z 1.96) for the 25-odd
    suppliers and 99.9 % (z 3.29) for the hundreds of products and thousands of batches, so
    that testing many subjects does not by itself raise alarms. The baseline leaves the subject
    out: the rest of its subcategory (product), category (supplier) or the product's other
    batches (batch), the latter shrunk toward the rest of the subcategory with a prior weight
    of quality_batch_prior_lines lines, so a product with few or spotless other batches does
    not give a baseline of 0. A subject whose lines span several scopes (a supplier with
    products in several categories) gets the mix of its scopes' baselines, weighted by its own
    trials in each (its order lines when it has no trials); category and subcategory are
    those of its main scope (most order lines, ties by name).
    The rule is evaluated on running totals per order week (one row per subject and week, so
    "latest" and "since" are unambiguous); since_week_start_date is the first week of the run
    of weeks up to now in which it held.
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
        {%- set z_supplier = signal_var('quality_z_supplier') %}
        {%- set z_many = signal_var('quality_z_many') %}
        case
            when rule_inputs.subject_level = 'supplier'
                then {{ wilson_bound(
                    'rule_inputs.successes', 'rule_inputs.trials', 'lower', z_supplier
                ) }}
            else {{ wilson_bound('rule_inputs.successes', 'rule_inputs.trials', 'lower', z_many) }}
        end as rule_lower_bound
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

rules_flagged as (

    select
        *,
        coalesce(
            trials >= min_trials
            and successes >= {{ signal_var('quality_min_returns') }}
            and rule_lower_bound > baseline_rate * {{ signal_var('quality_min_lift') }},
            false
        ) as is_holding,
        row_number() over (
            partition by subject_level, subject_id, alert_rule
            order by order_week_start_date desc
        ) as weeks_from_latest
    from rules_by_week

),

streaks as (

    select
        subject_level,
        subject_id,
        alert_rule,
        max(case when not is_holding then order_week_start_date end) as last_week_not_holding
    from rules_flagged
    group by 1, 2, 3

),

holding_since as (

    select
        rules_flagged.subject_level,
        rules_flagged.subject_id,
        rules_flagged.alert_rule,
        min(rules_flagged.order_week_start_date) as since_week_start_date
    from rules_flagged
    inner join streaks
        on
            rules_flagged.subject_level = streaks.subject_level
            and rules_flagged.subject_id = streaks.subject_id
            and rules_flagged.alert_rule = streaks.alert_rule
    where
        rules_flagged.is_holding
        and (
            streaks.last_week_not_holding is null
            or rules_flagged.order_week_start_date > streaks.last_week_not_holding
        )
    group by 1, 2, 3

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
        latest.rule_lower_bound,
        latest.baseline_rate,
        latest.baseline_trials,
        latest.rate / nullif(latest.baseline_rate, 0) as lift,
        latest.is_holding,
        holding_since.since_week_start_date
    from rules_flagged as latest
    left join holding_since
        on
            latest.subject_level = holding_since.subject_level
            and latest.subject_id = holding_since.subject_id
            and latest.alert_rule = holding_since.alert_rule
    where latest.weeks_from_latest = 1

)

select * from final
