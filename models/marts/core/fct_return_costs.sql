{#
    One row per return line with what it cost, component by component
    (int_return_lines_costed): the public, line-level face of the cost of returns for BI and
    the semantic layer (metrics cost_of_returns_eur, margin_lost_to_returns_eur,
    net_margin_after_returns_eur). kpi_return_costs sums the same lines per period and slice.
#}
with

costed_lines as (

    select * from {{ ref('int_return_lines_costed') }}

),

final as (

    select
        rma_id,
        order_line_id,
        order_id,
        sku,
        product_id,
        category,
        supplier_id,
        channel,
        customer_key,
        reason,
        resolution,
        disposition,
        condition_grade,
        return_state,
        returned_quantity,
        is_shipped_back,
        is_sale_undone,
        returned_value_eur,
        refunded_eur,
        forward_shipping_eur,
        return_label_eur,
        handling_eur,
        refurbishment_eur,
        goods_at_cost_eur,
        value_recovered_eur,
        write_off_eur,
        refund_fee_eur,
        customer_fee_eur,
        cost_of_return_eur,
        margin_lost_eur,
        return_label_basis,
        customer_fee_basis,
        attributed_date,
        requested_date
    from costed_lines

)

select * from final
