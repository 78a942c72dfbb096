{#
    One row per open quality signal: a rule of int_quality_rules_evaluated that holds now
    for a product, supplier or batch, with its evidence, since when it holds, who should act
    and the supplier it concerns (the recipient of the supplier export), and the test behind
    it: p-value, false-discovery q-value and how many subjects of the level the rule tested.
    No customer data.
#}
with

rules as (

    select * from {{ ref('int_quality_rules_evaluated') }}
    where is_holding

),

product_quality as (

    select * from {{ ref('sig_product_quality') }}

),

supplier_quality as (

    select * from {{ ref('sig_supplier_quality') }}

),

batch_quality as (

    select * from {{ ref('sig_batch_quality') }}

),

subjects as (

    select
        'product' as subject_level,
        product_id as subject_id,
        product_name as subject_name,
        supplier_id,
        supplier_name,
        top_reasons
    from product_quality

    union all

    select
        'supplier' as subject_level,
        supplier_id as subject_id,
        supplier_name as subject_name,
        supplier_id,
        supplier_name,
        top_reasons
    from supplier_quality

    union all

    select
        'batch' as subject_level,
        batch_id as subject_id,
        product_name as subject_name,
        supplier_id,
        supplier_name,
        top_reasons
    from batch_quality

),

alerts as (

    select
        rules.*,
        subjects.subject_name,
        subjects.supplier_id,
        subjects.supplier_name,
        subjects.top_reasons,
        case rules.alert_rule
            when 'return_rate' then 'return rate above ' || rules.baseline_scope
            when 'defect_damage' then 'defect/damage spike'
            when 'runs_small' then 'runs small'
            when 'runs_large' then 'runs large'
        end as what,
        case
            when
                rules.alert_rule in ('runs_small', 'runs_large')
                and rules.subject_level = 'product'
                then 'design'
            when rules.alert_rule in ('runs_small', 'runs_large') then 'supplier'
            when
                rules.alert_rule = 'defect_damage'
                and rules.subject_level = 'batch'
                then 'supplier'
            else 'purchasing'
        end as action_owner,
        case
            when rules.rate >= rules.baseline_rate * {{ signal_var('quality_high_lift') }}
                then 'high'
            else 'medium'
        end as severity,
        case
            when rules.alert_rule in ('runs_small', 'runs_large') then 'return lines'
            else 'order lines'
        end as trials_unit,
        case
            when rules.q_value < 0.0001 then '< 0.0001'
            else cast(round(rules.q_value, 4) as string)
        end as q_value_text,
        case rules.subject_level
            when 'batch' then 'batches'
            else rules.subject_level || 's'
        end as subject_level_plural
    from rules
    inner join subjects
        on
            rules.subject_level = subjects.subject_level
            and rules.subject_id = subjects.subject_id

),

final as (

    select
        cast(
            {{ dbt.concat(["subject_level", "':'", "subject_id", "':'", "alert_rule"]) }} as string
        ) as alert_id,
        cast(subject_level as string) as subject_level,
        cast(subject_id as string) as subject_id,
        cast(subject_name as string) as subject_name,
        cast(supplier_id as string) as supplier_id,
        cast(supplier_name as string) as supplier_name,
        cast(category as string) as category,
        cast(alert_rule as string) as alert_rule,
        cast(what as string) as what,
        cast(rate as double) as rate,
        cast(rate_lower_95 as double) as rate_lower_95,
        cast(rate_upper_95 as double) as rate_upper_95,
        cast(baseline_rate as double) as baseline_rate,
        cast(baseline_scope as string) as baseline_scope,
        cast(lift as double) as lift,
        cast(successes as bigint) as successes,
        cast(trials as bigint) as trials,
        cast(top_reasons as string) as top_reasons,
        cast(
            {{ dbt.concat([
                "cast(round(100 * rate, 1) as string)", "'% (95% CI '",
                "cast(round(100 * rate_lower_95, 1) as string)", "'-'",
                "cast(round(100 * rate_upper_95, 1) as string)", "'%) vs '",
                "cast(round(100 * baseline_rate, 1) as string)", "'% for the '",
                "baseline_scope", "'; '", "cast(successes as string)", "' of '",
                "cast(trials as string)", "' '", "trials_unit", "'; top reasons: '",
                "coalesce(top_reasons, 'none')", "'; false-discovery q-value '",
                "q_value_text", "' among '", "cast(family_tests as string)", "' '",
                "subject_level_plural", "' tested'",
            ]) }} as string
        ) as evidence,
        cast(since_week_start_date as date) as since_week_start_date,
        cast(action_owner as string) as action_owner,
        cast(severity as string) as severity,
        cast(p_value as double) as p_value,
        cast(q_value as double) as q_value,
        cast(family_tests as bigint) as subjects_tested
    from alerts

)

select * from final
