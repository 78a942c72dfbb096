{#
    The baseline of every quality subject (product, supplier, batch) and alert rule, with the
    subject's main scope. Grain: one row per subject_level x subject_id x alert_rule.
    The baseline leaves the subject out: the rest of its subcategory (product), category
    (supplier) or the product's other batches (batch), the latter shrunk toward the rest of the
    subcategory with a prior weight of quality_batch_prior_lines lines, so a product with few or
    spotless other batches does not give a baseline of 0. A subject whose lines span several
    scopes (a supplier with products in several categories) gets the mix of its scopes'
    baselines, weighted by its own trials in each (its order lines when it has no trials);
    category and subcategory are those of its main scope (most order lines, ties by name).
    The measures and rules are those of int_quality_rules_scored_by_week.
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

final as (

    select
        baselines.subject_level,
        baselines.subject_id,
        baselines.alert_rule,
        main_scopes.category,
        main_scopes.subcategory,
        main_scopes.baseline_scope_id,
        baselines.baseline_scope,
        baselines.baseline_rate,
        baselines.baseline_trials
    from baselines
    inner join main_scopes
        on
            baselines.subject_level = main_scopes.subject_level
            and baselines.subject_id = main_scopes.subject_id
            and main_scopes.scope_rank = 1

)

select * from final
