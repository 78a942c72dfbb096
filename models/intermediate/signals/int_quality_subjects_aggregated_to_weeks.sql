{#
    Order lines and their returns per quality subject, baseline scope and order week, for three
    levels: product (baseline scope: its subcategory), supplier (its category) and batch (its
    product; the baseline falls back to the subcategory). Grain: one row per subject_level x
    subject_id x baseline_scope_id x order_week_start_date. A subject has several scopes when
    its lines span several of them (a supplier whose products are in several categories, a
    batch shipped under several products): int_quality_rules_evaluated weighs the scopes'
    baselines by the subject's lines in each and sums the weeks per subject.

    A table (45,906 rows at 10M order lines): int_quality_baselines_estimated,
    int_quality_rules_scored_by_week, int_quality_rules_judged_by_week and
    int_quality_rules_evaluated all read it, and as a view int_quality_rules_evaluated alone
    aggregated all order lines six times (12 s of CPU at 10M). Each order line is read once
    and repeated per level by a join to the three levels: a union of three reads of the
    order_lines CTE made DuckDB materialise it (every order line, issue 16).
#}
{{ config(materialized='table') }}
with

order_lines as (

    select * from {{ ref('int_order_lines_flagged_for_quality') }}

),

subject_levels as (

    select 'product' as subject_level
    union all
    select 'supplier' as subject_level
    union all
    select 'batch' as subject_level

),

lines_per_level as (

    select
        subject_levels.subject_level,
        case subject_levels.subject_level
            when 'product' then order_lines.product_id
            when 'supplier' then order_lines.supplier_id
            else order_lines.batch_id
        end as subject_id,
        case subject_levels.subject_level
            when 'product' then order_lines.subcategory
            when 'supplier' then order_lines.category
            else order_lines.product_id
        end as baseline_scope_id,
        order_lines.*
    from order_lines
    cross join subject_levels
    where subject_levels.subject_level <> 'batch' or order_lines.batch_id is not null

),

final as (

    select
        subject_level,
        subject_id,
        baseline_scope_id,
        order_week_start_date,
        min(category) as category,
        min(subcategory) as subcategory,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(case when has_defect_damage_return then 1 else 0 end) as defect_damage_lines,
        sum(return_lines) as return_lines,
        sum(too_small_return_lines) as too_small_return_lines,
        sum(too_large_return_lines) as too_large_return_lines
    from lines_per_level
    group by 1, 2, 3, 4

)

select * from final
