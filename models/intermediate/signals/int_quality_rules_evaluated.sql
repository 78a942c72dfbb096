{#
    Four alert rules per quality subject (product, supplier, batch), as the data stands now
    and since when each holds:
      return_rate     lines with a return / lines
      defect_damage   lines with a defect or transit-damage return / lines
      runs_small      'size too small' return lines / return lines
      runs_large      'size too large' return lines / return lines
    A rule holds when the subject has enough evidence (trials >= a minimum sample and
    successes >= quality_min_returns) and the lower bound of the Wilson interval of its rate
    is above baseline x quality_min_lift. The interval is 95 % (z 1.96) for the 25-odd
    suppliers and 99.9 % (z 3.29) for the hundreds of products and thousands of batches, so
    that testing many subjects does not by itself raise alarms. The baseline leaves the subject out: the rest
    of its subcategory (product), category (supplier) or the product's other batches (batch),
    the latter shrunk toward the rest of the subcategory with a prior weight of
    quality_batch_prior_lines lines, so a product with few or spotless other batches does not
    give a baseline of 0. The rule is
    evaluated on running totals per order week; since_week_start_date is the first week of
    the run of weeks up to now in which it held.
#}
with

subject_weeks as (

    select * from {{ ref('int_quality_subjects_aggregated_to_weeks') }}

),

subject_totals as (

    select
        subject_level,
        subject_id,
        baseline_scope_id,
        min(category) as category,
        min(subcategory) as subcategory,
        sum(order_lines) as order_lines,
        sum(returned_lines) as returned_lines,
        sum(defect_damage_lines) as defect_damage_lines,
        sum(return_lines) as return_lines,
        sum(too_small_return_lines) as too_small_return_lines,
        sum(too_large_return_lines) as too_large_return_lines
    from subject_weeks
    group by 1, 2, 3

),

scope_totals as (

    select
        subject_level,
        baseline_scope_id,
        sum(order_lines) as order_lines,
        sum(returned_lines) as returned_lines,
        sum(defect_damage_lines) as defect_damage_lines,
        sum(return_lines) as return_lines,
        sum(too_small_return_lines) as too_small_return_lines,
        sum(too_large_return_lines) as too_large_return_lines
    from subject_totals
    group by 1, 2

),

subcategory_totals as (

    select
        baseline_scope_id as subcategory,
        order_lines,
        returned_lines,
        defect_damage_lines,
        return_lines,
        too_small_return_lines,
        too_large_return_lines
    from scope_totals
    where subject_level = 'product'

),

baselines as (

    select
        subjects.subject_level,
        subjects.subject_id,
        case
            when subjects.subject_level = 'product' then 'subcategory'
            when subjects.subject_level = 'supplier' then 'category'
            else 'other_batches'
        end as baseline_scope,
        {% for measure in [
            'order_lines', 'returned_lines', 'defect_damage_lines', 'return_lines',
            'too_small_return_lines', 'too_large_return_lines'
        ] %}
            scope_totals.{{ measure }} - subjects.{{ measure }} as baseline_{{ measure }},
            subcategory_totals.{{ measure }} - subjects.{{ measure }}
                as subcategory_{{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from subject_totals as subjects
    inner join scope_totals
        on
            subjects.subject_level = scope_totals.subject_level
            and subjects.baseline_scope_id = scope_totals.baseline_scope_id
    left join subcategory_totals
        on subjects.subcategory = subcategory_totals.subcategory

),

rule_inputs as (

    {% set rules = [
        ('return_rate', 'returned_lines', 'order_lines'),
        ('defect_damage', 'defect_damage_lines', 'order_lines'),
        ('runs_small', 'too_small_return_lines', 'return_lines'),
        ('runs_large', 'too_large_return_lines', 'return_lines'),
    ] %}
    {% for alert_rule, successes, trials in rules %}
        select
            weeks.subject_level,
            weeks.subject_id,
            weeks.baseline_scope_id,
            weeks.category,
            weeks.subcategory,
            weeks.order_week_start_date,
            baselines.baseline_scope,
            '{{ alert_rule }}' as alert_rule,
            weeks.cumulative_{{ successes }} as successes,
            weeks.cumulative_{{ trials }} as trials,
            case
                when weeks.subject_level = 'batch'
                    then (
                        baselines.baseline_{{ successes }}
                        + {{ signal_var('quality_batch_prior_lines') }}
                        * cast(baselines.subcategory_{{ successes }} as double)
                        / nullif(baselines.subcategory_{{ trials }}, 0)
                    ) / (
                        baselines.baseline_{{ trials }}
                        + {{ signal_var('quality_batch_prior_lines') }}
                    )
                else
                    cast(baselines.baseline_{{ successes }} as double)
                    / nullif(baselines.baseline_{{ trials }}, 0)
            end as baseline_rate,
            baselines.baseline_{{ trials }} as baseline_trials,
            {% if trials == 'order_lines' %}
                case
                    when weeks.subject_level = 'batch'
                        then {{ signal_var('quality_min_batch_lines') }}
                    else {{ signal_var('quality_min_lines') }}
                end as min_trials
            {% else %}
                {{ signal_var('sizing_min_size_returns') }} as min_trials
            {% endif %}
        from subject_weeks as weeks
        inner join baselines
            on
                weeks.subject_level = baselines.subject_level
                and weeks.subject_id = baselines.subject_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

rules_by_week as (

    select
        *,
        cast(successes as double) / nullif(trials, 0) as rate,
        {{ wilson_bound('successes', 'trials', 'lower') }} as rate_lower_95,
        {{ wilson_bound('successes', 'trials', 'upper') }} as rate_upper_95,
        {%- set z_supplier = signal_var('quality_z_supplier') %}
        {%- set z_many = signal_var('quality_z_many') %}
        case
            when subject_level = 'supplier'
                then {{ wilson_bound('successes', 'trials', 'lower', z_supplier) }}
            else {{ wilson_bound('successes', 'trials', 'lower', z_many) }}
        end as rule_lower_bound
    from rule_inputs

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
