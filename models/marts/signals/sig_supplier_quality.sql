{#
    Return quality per supplier: return rate, defect/damage rate and the sizing skew (share
    of returns 'too small' vs 'too large') against the rest of the supplier's category, with
    Wilson intervals, the alert rules of int_quality_rules_evaluated and their false-discovery
    q-values.
#}
with

subjects as (

    select * from {{ ref('int_quality_subjects_pivoted') }}
    where subject_level = 'supplier'

),

suppliers as (

    select * from {{ ref('dim_suppliers') }}

),

final as (

    select
        cast(subjects.subject_id as string) as supplier_id,
        cast(suppliers.supplier_name as string) as supplier_name,
        cast(subjects.category as string) as category,
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
        cast(
            (subjects.too_small_share - subjects.too_large_share)
            - (subjects.baseline_too_small_share - subjects.baseline_too_large_share)
            as double
        ) as sizing_skew,
        cast(subjects.return_rate_q_value as double) as return_rate_q_value,
        cast(subjects.defect_damage_rate_q_value as double) as defect_damage_rate_q_value,
        cast(subjects.too_small_share_q_value as double) as too_small_share_q_value,
        cast(subjects.too_large_share_q_value as double) as too_large_share_q_value
    from subjects
    left join suppliers
        on subjects.subject_id = suppliers.supplier_id

)

select * from final
