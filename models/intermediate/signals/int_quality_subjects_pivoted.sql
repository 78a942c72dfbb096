{#
    One row per quality subject (level + id) with the four rules of
    int_quality_rules_evaluated side by side (rate, interval, baseline, false-discovery q-value,
    verdict, since), and the subject's top three return reasons.

    A table (issue 16): sig_product_quality, sig_supplier_quality and sig_batch_quality each
    recomputed the whole chain of quality views under it on every scan (3.2 s of CPU per
    scan at 1M order lines). Aggregates per product, supplier and batch only.
#}
{{ config(materialized='table') }}
{%- set rules = {
    'return_rate': ('return_rate', 'is_return_rate_above_baseline'),
    'defect_damage': ('defect_damage_rate', 'is_defect_damage_spike'),
    'runs_small': ('too_small_share', 'is_running_small'),
    'runs_large': ('too_large_share', 'is_running_large'),
} %}
with

rules as (

    select * from {{ ref('int_quality_rules_evaluated') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

return_lines as (

    select * from {{ ref('fct_returns') }}

),

return_lines_with_subjects as (

    select
        return_lines.reason,
        order_lines.product_id,
        order_lines.supplier_id,
        order_lines.batch_id
    from return_lines
    inner join order_lines
        on return_lines.order_line_id = order_lines.order_line_id

),

reasons_per_subject as (

    select
        'product' as subject_level,
        product_id as subject_id,
        reason,
        count(*) as return_lines
    from return_lines_with_subjects
    where product_id is not null
    group by 1, 2, 3

    union all

    select
        'supplier' as subject_level,
        supplier_id as subject_id,
        reason,
        count(*) as return_lines
    from return_lines_with_subjects
    group by 1, 2, 3

    union all

    select
        'batch' as subject_level,
        batch_id as subject_id,
        reason,
        count(*) as return_lines
    from return_lines_with_subjects
    where batch_id is not null
    group by 1, 2, 3

),

reasons_ranked as (

    select
        subject_level,
        subject_id,
        reason,
        cast(round(
            100.0 * return_lines
            / sum(return_lines) over (partition by subject_level, subject_id)
        ) as bigint) as share_pct,
        row_number() over (
            partition by subject_level, subject_id order by return_lines desc, reason asc
        ) as reason_rank
    from reasons_per_subject

),

top_reasons as (

    select
        subject_level,
        subject_id,
        max(case when reason_rank = 1 then reason || ' ' || cast(share_pct as string) || '%' end)
            as reason_1,
        max(case when reason_rank = 2 then reason || ' ' || cast(share_pct as string) || '%' end)
            as reason_2,
        max(case when reason_rank = 3 then reason || ' ' || cast(share_pct as string) || '%' end)
            as reason_3
    from reasons_ranked
    where reason_rank <= 3
    group by 1, 2

),

pivoted as (

    select
        subject_level,
        subject_id,
        min(category) as category,
        min(subcategory) as subcategory,
        min(baseline_scope) as baseline_scope,
        max(case when alert_rule = 'return_rate' then trials end) as order_lines,
        max(case when alert_rule = 'return_rate' then successes end) as returned_lines,
        max(case when alert_rule = 'runs_small' then trials end) as return_lines,
        max(case when alert_rule = 'runs_small' then successes end) as too_small_return_lines,
        max(case when alert_rule = 'runs_large' then successes end) as too_large_return_lines,
        max(case when alert_rule = 'defect_damage' then successes end) as defect_damage_lines,
        {% for r, names in rules.items() %}
            max(case when alert_rule = '{{ r }}' then rate end) as {{ names[0] }},
            max(case when alert_rule = '{{ r }}' then rate_lower_95 end)
                as {{ names[0] }}_lower_95,
            max(case when alert_rule = '{{ r }}' then rate_upper_95 end)
                as {{ names[0] }}_upper_95,
            max(case when alert_rule = '{{ r }}' then baseline_rate end)
                as baseline_{{ names[0] }},
            max(case when alert_rule = '{{ r }}' then q_value end)
                as {{ names[0] }}_q_value,
            coalesce(
                max(case when alert_rule = '{{ r }}' and is_holding then 1 else 0 end) = 1, false
            ) as {{ names[1] }},
            max(case when alert_rule = '{{ r }}' then since_week_start_date end)
                as {{ names[1] }}_since{% if not loop.last %},{% endif %}
        {% endfor %}
    from rules
    group by 1, 2

),

final as (

    select
        pivoted.*,
        {{ dbt.concat([
            "coalesce(top_reasons.reason_1, '')",
            "coalesce(', ' || top_reasons.reason_2, '')",
            "coalesce(', ' || top_reasons.reason_3, '')",
        ]) }} as top_reasons,
        (
            case when pivoted.is_return_rate_above_baseline then 1 else 0 end
            + case when pivoted.is_defect_damage_spike then 1 else 0 end
            + case when pivoted.is_running_small then 1 else 0 end
            + case when pivoted.is_running_large then 1 else 0 end
        ) as open_alerts
    from pivoted
    left join top_reasons
        on
            pivoted.subject_level = top_reasons.subject_level
            and pivoted.subject_id = top_reasons.subject_id

)

select * from final
