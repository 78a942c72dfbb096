{#
    Return quality per product (style, all its skus): return rate, defect/damage rate and
    sizing shares against the rest of its subcategory, with Wilson intervals, the alert rules
    of int_quality_rules_evaluated and their false-discovery q-values.
#}
with

subjects as (

    select * from {{ ref('int_quality_subjects_pivoted') }}
    where subject_level = 'product'

),

products as (

    select * from {{ ref('dim_products') }}

),

styles as (

    select
        product_id,
        min(product_name) as product_name,
        min(supplier_id) as supplier_id,
        min(supplier_name) as supplier_name
    from products
    group by 1

),

final as (

    select
        cast(subjects.subject_id as string) as product_id,
        cast(styles.product_name as string) as product_name,
        cast(subjects.category as string) as category,
        cast(subjects.subcategory as string) as subcategory,
        cast(styles.supplier_id as string) as supplier_id,
        cast(styles.supplier_name as string) as supplier_name,
        cast(subjects.order_lines as bigint) as order_lines,
        cast(subjects.returned_lines as bigint) as returned_lines,
        cast(subjects.return_lines as bigint) as return_lines,
        cast(subjects.return_rate as double) as return_rate,
        cast(subjects.return_rate_lower_95 as double) as return_rate_lower_95,
        cast(subjects.return_rate_upper_95 as double) as return_rate_upper_95,
        cast(subjects.baseline_return_rate as double) as baseline_return_rate,
        cast(subjects.defect_damage_rate as double) as defect_damage_rate,
        cast(subjects.defect_damage_rate_lower_95 as double) as defect_damage_rate_lower_95,
        cast(subjects.defect_damage_rate_upper_95 as double) as defect_damage_rate_upper_95,
        cast(subjects.baseline_defect_damage_rate as double) as baseline_defect_damage_rate,
        cast(subjects.too_small_share as double) as too_small_share,
        cast(subjects.too_small_share_lower_95 as double) as too_small_share_lower_95,
        cast(subjects.baseline_too_small_share as double) as baseline_too_small_share,
        cast(subjects.too_large_share as double) as too_large_share,
        cast(subjects.too_large_share_lower_95 as double) as too_large_share_lower_95,
        cast(subjects.baseline_too_large_share as double) as baseline_too_large_share,
        cast(subjects.top_reasons as string) as top_reasons,
        subjects.is_return_rate_above_baseline,
        subjects.is_defect_damage_spike,
        subjects.is_running_small,
        subjects.is_running_large,
        cast(subjects.open_alerts as bigint) as open_alerts,
        subjects.open_alerts > 0 as has_alert,
        cast(subjects.return_rate_q_value as double) as return_rate_q_value,
        cast(subjects.defect_damage_rate_q_value as double) as defect_damage_rate_q_value,
        cast(subjects.too_small_share_q_value as double) as too_small_share_q_value,
        cast(subjects.too_large_share_q_value as double) as too_large_share_q_value
    from subjects
    left join styles
        on subjects.subject_id = styles.product_id

)

select * from final
