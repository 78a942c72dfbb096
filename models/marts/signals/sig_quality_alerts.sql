{#
    One row per open quality signal: a rule of int_quality_rules_evaluated that holds now
    for a product, supplier or batch, with its evidence, since when it holds, who should act
    and the supplier it concerns (the recipient of the supplier export), and the test behind
    it: p-value, false-discovery q-value and how many subjects of the level the rule tested.
    The cost behind each alert: what the returns of the subject's order lines (the lines its
    evidence counts, every order week to date) cost and the margin they lost
    (int_return_lines_costed), and the cost of the returns its rule counts (all of them for
    return_rate; defect/transit damage, size too small or too large for the others).
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

quality_lines as (

    select * from {{ ref('int_order_lines_flagged_for_quality') }}

),

return_lines_costed as (

    select * from {{ ref('int_return_lines_costed') }}

),

return_lines_of_quality_lines as (

    select
        quality_lines.product_id,
        quality_lines.supplier_id,
        quality_lines.batch_id,
        return_lines_costed.reason,
        return_lines_costed.cost_of_return_eur,
        return_lines_costed.margin_lost_eur
    from return_lines_costed
    inner join quality_lines
        on return_lines_costed.order_line_id = quality_lines.order_line_id

),

subject_return_lines as (

    select
        'product' as subject_level,
        product_id as subject_id,
        reason,
        cost_of_return_eur,
        margin_lost_eur
    from return_lines_of_quality_lines

    union all

    select
        'supplier' as subject_level,
        supplier_id as subject_id,
        reason,
        cost_of_return_eur,
        margin_lost_eur
    from return_lines_of_quality_lines

    union all

    select
        'batch' as subject_level,
        batch_id as subject_id,
        reason,
        cost_of_return_eur,
        margin_lost_eur
    from return_lines_of_quality_lines
    where batch_id is not null

),

subject_return_costs as (

    select
        subject_level,
        subject_id,
        sum(cost_of_return_eur) as cost_of_returns_eur,
        sum(margin_lost_eur) as margin_lost_to_returns_eur,
        sum(
            case
                when reason in ('defective', 'damaged_in_transit') then cost_of_return_eur
                else 0
            end
        ) as defect_damage_cost_eur,
        sum(
            case when reason = 'size_too_small' then cost_of_return_eur else 0 end
        ) as too_small_cost_eur,
        sum(
            case when reason = 'size_too_large' then cost_of_return_eur else 0 end
        ) as too_large_cost_eur
    from subject_return_lines
    group by 1, 2

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
        coalesce(subject_return_costs.cost_of_returns_eur, 0) as cost_of_returns_eur,
        coalesce(subject_return_costs.margin_lost_to_returns_eur, 0) as margin_lost_to_returns_eur,
        coalesce(
            case rules.alert_rule
                when 'return_rate' then subject_return_costs.cost_of_returns_eur
                when 'defect_damage' then subject_return_costs.defect_damage_cost_eur
                when 'runs_small' then subject_return_costs.too_small_cost_eur
                when 'runs_large' then subject_return_costs.too_large_cost_eur
            end,
            0
        ) as rule_cost_of_returns_eur,
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
    left join subject_return_costs
        on
            rules.subject_level = subject_return_costs.subject_level
            and rules.subject_id = subject_return_costs.subject_id

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
        cast(family_tests as bigint) as subjects_tested,
        cast(cost_of_returns_eur as decimal(18, 2)) as cost_of_returns_eur,
        cast(margin_lost_to_returns_eur as decimal(18, 2)) as margin_lost_to_returns_eur,
        cast(rule_cost_of_returns_eur as decimal(18, 2)) as rule_cost_of_returns_eur
    from alerts

)

select * from final
