{#
    Order lines and their returns per quality subject and order week, for three levels:
    product (baseline scope: its subcategory), supplier (its category) and batch (its
    product's other batches, falling back to the subcategory). Counts per week, and running
    totals up to and including the week, so a rule can be evaluated as the data stood then.
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

weeks as (

    select
        subject_level,
        subject_id,
        baseline_scope_id,
        min(category) as category,
        min(subcategory) as subcategory,
        order_week_start_date,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(case when has_defect_damage_return then 1 else 0 end) as defect_damage_lines,
        sum(return_lines) as return_lines,
        sum(too_small_return_lines) as too_small_return_lines,
        sum(too_large_return_lines) as too_large_return_lines
    from lines_per_level
    group by 1, 2, 3, 6

),

final as (

    select
        subject_level,
        subject_id,
        baseline_scope_id,
        category,
        subcategory,
        order_week_start_date,
        order_lines,
        returned_lines,
        defect_damage_lines,
        return_lines,
        too_small_return_lines,
        too_large_return_lines,
        {% for measure in [
            'order_lines', 'returned_lines', 'defect_damage_lines', 'return_lines',
            'too_small_return_lines', 'too_large_return_lines'
        ] %}
            sum({{ measure }}) over (
                partition by subject_level, subject_id
                order by order_week_start_date
                rows between unbounded preceding and current row
            ) as cumulative_{{ measure }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from weeks

)

select * from final
