{#
    Order lines and their returns per quality subject, baseline scope and order week, for three
    levels: product (baseline scope: its subcategory), supplier (its category) and batch (its
    product; the baseline falls back to the subcategory). Grain: one row per subject_level x
    subject_id x baseline_scope_id x order_week_start_date. A subject has several scopes when
    its lines span several of them (a supplier whose products are in several categories, a
    batch shipped under several products): int_quality_rules_evaluated weighs the scopes'
    baselines by the subject's lines in each and sums the weeks per subject.
#}
with

order_lines as (

    select * from {{ ref('int_order_lines_flagged_for_quality') }}

),

lines_per_level as (

    select
        'product' as subject_level,
        product_id as subject_id,
        subcategory as baseline_scope_id,
        *
    from order_lines

    union all

    select
        'supplier' as subject_level,
        supplier_id as subject_id,
        category as baseline_scope_id,
        *
    from order_lines

    union all

    select
        'batch' as subject_level,
        batch_id as subject_id,
        product_id as baseline_scope_id,
        *
    from order_lines
    where batch_id is not null

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
