{#
    Return lines requested in the keep_it_window_days days up to the as-of date whose goods
    came back and were decided on (shipped back, disposition known), each with what taking
    it back cost beyond a keep-it: the return label, receiving and inspecting, refurbishment,
    less the value recovered from the goods. A keep-it (refund, goods stay with the customer)
    loses the goods at cost instead, so

        keep_it_saving_eur = return_label_eur + take_back_handling_eur + refurbishment_eur
                             - value_recovered_eur

    is what a keep-it would have saved on the line (negative: the take-back paid off). The
    refund, its fee, the refund step's handling and the forward shipping are the same either
    way and do not enter. The line's customer is flagged when sig_customer_return_risk calls
    them risky: keep-it is never advised for them (docs/kpis.md, "Keep-it advice").
#}
with

costed_lines as (

    select * from {{ ref('int_return_lines_costed') }}

),

customer_risk as (

    select * from {{ ref('sig_customer_return_risk') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

lines_in_window as (

    select costed_lines.*
    from costed_lines
    cross join warehouse_as_of
    where
        costed_lines.is_shipped_back
        and costed_lines.disposition is not null
        and costed_lines.product_id is not null
        and costed_lines.requested_date <= warehouse_as_of.as_of_date
        and costed_lines.requested_date > {{ dbt.dateadd(
            'day', -signal_var('keep_it_window_days'), 'warehouse_as_of.as_of_date'
        ) }}

),

final as (

    select
        lines_in_window.rma_id,
        lines_in_window.order_line_id,
        lines_in_window.product_id,
        lines_in_window.category,
        lines_in_window.supplier_id,
        coalesce(lines_in_window.reason, 'unknown') as reason,
        lines_in_window.customer_key,
        lines_in_window.requested_date,
        lines_in_window.returned_quantity,
        lines_in_window.return_label_eur,
        lines_in_window.take_back_handling_eur,
        lines_in_window.refurbishment_eur,
        lines_in_window.goods_at_cost_eur,
        lines_in_window.value_recovered_eur,
        cast(
            lines_in_window.return_label_eur + lines_in_window.take_back_handling_eur
            + lines_in_window.refurbishment_eur - lines_in_window.value_recovered_eur
            as decimal(18, 2)
        ) as keep_it_saving_eur,
        coalesce(customer_risk.is_risky, false) as is_risky_customer
    from lines_in_window
    left join customer_risk
        on lines_in_window.customer_key = customer_risk.customer_key

)

select * from final
