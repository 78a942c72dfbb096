{#
    Keep-it advice per product and per product x reason (reason 'all': the product as a
    whole): whether letting the customer keep the item with a refund would have cost less
    than taking it back, judged on the product's returns of the last keep_it_window_days
    days (int_return_lines_assessed_for_keep_it: label + receiving and inspecting +
    refurbishment - value recovered, per line).
      is_keep_it_advised   at least keep_it_min_lines such lines and a positive mean saving
                           per line
      saving_if_applied    the saving over the window's lines of customers without abuse
                           signals, had the advice been applied (0 when not advised); lines
                           of risky customers are counted apart and never advised
    The product rows and the product x reason rows each cover all the product's lines: add
    up one level, not both.
#}
with

assessed_lines as (

    select * from {{ ref('int_return_lines_assessed_for_keep_it') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

lines_in_slices as (

    select
        *,
        reason as slice_reason
    from assessed_lines

    union all

    select
        *,
        'all' as slice_reason
    from assessed_lines

),

slices as (

    select
        product_id,
        slice_reason,
        max(category) as category,
        max(supplier_id) as supplier_id,
        count(*) as assessed_lines,
        sum(returned_quantity) as assessed_units,
        sum(return_label_eur) as return_label_eur,
        sum(take_back_handling_eur) as take_back_handling_eur,
        sum(refurbishment_eur) as refurbishment_eur,
        sum(goods_at_cost_eur) as goods_at_cost_eur,
        sum(value_recovered_eur) as value_recovered_eur,
        sum(keep_it_saving_eur) as keep_it_saving_eur,
        sum(case when is_risky_customer then 1 else 0 end) as risky_customer_lines,
        sum(
            case when is_risky_customer then 0 else keep_it_saving_eur end
        ) as eligible_saving_eur
    from lines_in_slices
    group by 1, 2

),

judged as (

    select
        *,
        (
            assessed_lines >= {{ signal_var('keep_it_min_lines') }}
            and keep_it_saving_eur > 0
        ) as is_keep_it_advised
    from slices

),

final as (

    select
        cast(judged.product_id as string) as product_id,
        cast(judged.slice_reason as string) as reason,
        cast(judged.category as string) as category,
        cast(judged.supplier_id as string) as supplier_id,
        cast(
            {{ dbt.dateadd(
                'day', 1 - signal_var('keep_it_window_days'), 'warehouse_as_of.as_of_date'
            ) }} as date
        ) as window_start_date,
        cast(warehouse_as_of.as_of_date as date) as window_end_date,
        cast(judged.assessed_lines as bigint) as assessed_lines,
        cast(judged.assessed_units as bigint) as assessed_units,
        cast(judged.return_label_eur as decimal(18, 2)) as return_label_eur,
        cast(judged.take_back_handling_eur as decimal(18, 2)) as take_back_handling_eur,
        cast(judged.refurbishment_eur as decimal(18, 2)) as refurbishment_eur,
        cast(judged.goods_at_cost_eur as decimal(18, 2)) as goods_at_cost_eur,
        cast(judged.value_recovered_eur as decimal(18, 2)) as value_recovered_eur,
        cast(judged.keep_it_saving_eur as decimal(18, 2)) as keep_it_saving_eur,
        cast(judged.keep_it_saving_eur as double) / judged.assessed_lines
            as keep_it_saving_per_line_eur,
        judged.is_keep_it_advised,
        cast(judged.risky_customer_lines as bigint) as risky_customer_lines,
        cast(
            case when judged.is_keep_it_advised then judged.eligible_saving_eur else 0 end
            as decimal(18, 2)
        ) as saving_if_applied_eur
    from judged
    cross join warehouse_as_of

)

select * from final
