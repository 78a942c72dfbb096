{#
    Return lines per KPI slice (macro kpi_slices) and day of the return request, for
    kpi_returns_by_request_date: lines, units, refunds, returned value, the value kept through
    exchanges and store credit, lines without a known order line, and the orders whose first
    return request in the slice fell on that day (an order counts as returned once per slice).
#}
with

return_lines as (

    select * from {{ ref('fct_returns') }}

),

return_lines_aggregated_to_days as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            requested_date as activity_date,
            count(*) as return_lines,
            sum(case when has_known_order_line then 0 else 1 end)
                as return_lines_unknown_order_line,
            sum(returned_quantity) as units_returned,
            sum(coalesce(refund_amount_eur, 0)) as refunded_eur,
            sum(returned_value_eur) as returned_value_eur,
            sum(
                case when resolution = 'exchange' then returned_value_eur else 0 end
            ) as exchange_value_eur,
            sum(
                case when resolution = 'store_credit' then returned_value_eur else 0 end
            ) as store_credit_value_eur
        from return_lines
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{# an order counts as returned on the day of its first return request in the slice #}
order_first_returns as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            order_id,
            min(requested_date) as first_requested_date
        from return_lines
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

orders_with_return_aggregated_to_days as (

    select
        slice_type,
        slice_value,
        first_requested_date as activity_date,
        count(*) as orders_with_return
    from order_first_returns
    group by 1, 2, 3

),

return_activity_stacked as (

    select
        slice_type,
        slice_value,
        activity_date,
        return_lines,
        return_lines_unknown_order_line,
        units_returned,
        refunded_eur,
        returned_value_eur,
        exchange_value_eur,
        store_credit_value_eur,
        0 as orders_with_return
    from return_lines_aggregated_to_days

    union all

    select
        slice_type,
        slice_value,
        activity_date,
        0 as return_lines,
        0 as return_lines_unknown_order_line,
        0 as units_returned,
        0 as refunded_eur,
        0 as returned_value_eur,
        0 as exchange_value_eur,
        0 as store_credit_value_eur,
        orders_with_return
    from orders_with_return_aggregated_to_days

),

final as (

    select
        slice_type,
        slice_value,
        activity_date,
        sum(return_lines) as return_lines,
        sum(return_lines_unknown_order_line) as return_lines_unknown_order_line,
        sum(units_returned) as units_returned,
        sum(refunded_eur) as refunded_eur,
        sum(returned_value_eur) as returned_value_eur,
        sum(exchange_value_eur) as exchange_value_eur,
        sum(store_credit_value_eur) as store_credit_value_eur,
        sum(orders_with_return) as orders_with_return
    from return_activity_stacked
    group by 1, 2, 3

)

select * from final
