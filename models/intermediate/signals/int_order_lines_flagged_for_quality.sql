{#
    One row per order line with what its returns say about product quality: return lines,
    returns for size too small / too large, and whether any return was for a defect or
    transit damage. Lines without a product in the export (category 'unknown') are left out;
    a batch that is not in the batch export is no quality subject (batch_id null here; such
    lines are counted in rpt_referential_integrity).
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

return_lines as (

    select * from {{ ref('fct_returns') }}

),

returns_aggregated_to_order_lines as (

    select
        order_line_id,
        count(*) as return_lines,
        sum(case when reason = 'size_too_small' then 1 else 0 end) as too_small_return_lines,
        sum(case when reason = 'size_too_large' then 1 else 0 end) as too_large_return_lines,
        sum(
            case when reason in ('defective', 'damaged_in_transit') then 1 else 0 end
        ) as defect_damage_return_lines
    from return_lines
    where has_known_order_line
    group by 1

),

final as (

    select
        order_lines.order_line_id,
        order_lines.product_id,
        order_lines.supplier_id,
        case when order_lines.has_known_batch then order_lines.batch_id end as batch_id,
        order_lines.category,
        order_lines.subcategory,
        order_lines.has_return,
        coalesce(line_returns.defect_damage_return_lines, 0) > 0 as has_defect_damage_return,
        coalesce(line_returns.return_lines, 0) as return_lines,
        coalesce(line_returns.too_small_return_lines, 0) as too_small_return_lines,
        coalesce(line_returns.too_large_return_lines, 0) as too_large_return_lines,
        {{ week_start_date('order_lines.ordered_date') }} as order_week_start_date
    from order_lines
    left join returns_aggregated_to_order_lines as line_returns
        on order_lines.order_line_id = line_returns.order_line_id
    where order_lines.product_id is not null

)

select * from final
