{#
    Cost of returns and net margin after returns of order cohorts (by order date) per period
    grain and slice: the KPI slices (macro kpi_slices) and, by month only, one slice per
    product. Sales and their gross margin come from fct_order_lines at the product's unit
    cost; the returns of those sales with every cost component from int_return_lines_costed
    (already in cents).
    Both are summed per slice and day, rolled up to weeks and months; ratios come last.
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

return_lines as (

    select * from {{ ref('int_return_lines_costed') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

grains as (

    {{ period_grains() }}

),

{% set slices = kpi_slices() + [("product", "coalesce(product_id, 'unknown')")] %}

order_lines_costed as (

    select
        order_lines.*,
        cast(
            coalesce(products.unit_cost_eur, 0) * order_lines.quantity as decimal(18, 2)
        ) as cost_of_goods_sold_eur
    from order_lines
    left join products
        on order_lines.sku = products.sku

),

sales_aggregated_to_days as (

    {% for slice_type, slice_column in slices %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            ordered_date as activity_date,
            sum(quantity) as units_sold,
            sum(line_amount_eur) as gross_revenue_eur,
            sum(cost_of_goods_sold_eur) as cost_of_goods_sold_eur
        from order_lines_costed
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

returns_aggregated_to_days as (

    {% for slice_type, slice_column in slices %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            attributed_date as activity_date,
            count(*) as return_lines,
            sum(returned_quantity) as units_returned,
            sum(returned_value_eur) as returned_value_eur,
            sum(refunded_eur) as refunded_eur,
            sum(forward_shipping_eur) as forward_shipping_eur,
            sum(return_label_eur) as return_label_eur,
            sum(handling_eur) as handling_eur,
            sum(refurbishment_eur) as refurbishment_eur,
            sum(goods_at_cost_eur) as goods_at_cost_eur,
            sum(value_recovered_eur) as value_recovered_eur,
            sum(write_off_eur) as write_off_eur,
            sum(refund_fee_eur) as refund_fees_eur,
            sum(customer_fee_eur) as customer_fees_eur,
            sum(cost_of_return_eur) as cost_of_returns_eur,
            sum(margin_lost_eur) as margin_lost_to_returns_eur,
            sum(
                case
                    when
                        return_label_basis = 'actual' or customer_fee_basis = 'actual'
                        then 1
                    else 0
                end
            ) as return_lines_with_actual_costs
        from return_lines
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

days as (

    select
        coalesce(sale_days.slice_type, return_days.slice_type) as slice_type,
        coalesce(sale_days.slice_value, return_days.slice_value) as slice_value,
        coalesce(sale_days.activity_date, return_days.activity_date) as activity_date,
        coalesce(sale_days.units_sold, 0) as units_sold,
        coalesce(sale_days.gross_revenue_eur, 0) as gross_revenue_eur,
        coalesce(sale_days.cost_of_goods_sold_eur, 0) as cost_of_goods_sold_eur,
        coalesce(return_days.return_lines, 0) as return_lines,
        coalesce(return_days.units_returned, 0) as units_returned,
        coalesce(return_days.returned_value_eur, 0) as returned_value_eur,
        coalesce(return_days.refunded_eur, 0) as refunded_eur,
        coalesce(return_days.forward_shipping_eur, 0) as forward_shipping_eur,
        coalesce(return_days.return_label_eur, 0) as return_label_eur,
        coalesce(return_days.handling_eur, 0) as handling_eur,
        coalesce(return_days.refurbishment_eur, 0) as refurbishment_eur,
        coalesce(return_days.goods_at_cost_eur, 0) as goods_at_cost_eur,
        coalesce(return_days.value_recovered_eur, 0) as value_recovered_eur,
        coalesce(return_days.write_off_eur, 0) as write_off_eur,
        coalesce(return_days.refund_fees_eur, 0) as refund_fees_eur,
        coalesce(return_days.customer_fees_eur, 0) as customer_fees_eur,
        coalesce(return_days.cost_of_returns_eur, 0) as cost_of_returns_eur,
        coalesce(return_days.margin_lost_to_returns_eur, 0) as margin_lost_to_returns_eur,
        coalesce(return_days.return_lines_with_actual_costs, 0)
            as return_lines_with_actual_costs
    from sales_aggregated_to_days as sale_days
    full outer join returns_aggregated_to_days as return_days
        on
            sale_days.slice_type = return_days.slice_type
            and sale_days.slice_value = return_days.slice_value
            and sale_days.activity_date = return_days.activity_date

),

days_rolled_up_to_periods as (

    select
        grains.period_grain,
        {{ period_start_date('grains.period_grain', 'days.activity_date') }}
            as period_start_date,
        days.slice_type,
        days.slice_value,
        sum(days.units_sold) as units_sold,
        sum(days.gross_revenue_eur) as gross_revenue_eur,
        sum(days.cost_of_goods_sold_eur) as cost_of_goods_sold_eur,
        sum(days.return_lines) as return_lines,
        sum(days.units_returned) as units_returned,
        sum(days.returned_value_eur) as returned_value_eur,
        sum(days.refunded_eur) as refunded_eur,
        sum(days.forward_shipping_eur) as forward_shipping_eur,
        sum(days.return_label_eur) as return_label_eur,
        sum(days.handling_eur) as handling_eur,
        sum(days.refurbishment_eur) as refurbishment_eur,
        sum(days.goods_at_cost_eur) as goods_at_cost_eur,
        sum(days.value_recovered_eur) as value_recovered_eur,
        sum(days.write_off_eur) as write_off_eur,
        sum(days.refund_fees_eur) as refund_fees_eur,
        sum(days.customer_fees_eur) as customer_fees_eur,
        sum(days.cost_of_returns_eur) as cost_of_returns_eur,
        sum(days.margin_lost_to_returns_eur) as margin_lost_to_returns_eur,
        sum(days.return_lines_with_actual_costs) as return_lines_with_actual_costs
    from days
    cross join grains
    {# per product only by month: products x days would dwarf the rest of the mart #}
    where days.slice_type <> 'product' or grains.period_grain = 'month'
    group by 1, 2, 3, 4

),

periods_with_end_dates as (

    select
        *,
        {{ period_end_date('period_grain', 'period_start_date') }} as period_end_date
    from days_rolled_up_to_periods

),

final as (

    select
        cast(periods.period_grain as string) as period_grain,
        cast(periods.slice_type as string) as slice_type,
        cast(periods.slice_value as string) as slice_value,
        cast(
            case
                when periods.return_lines_with_actual_costs = 0 then 'parameters'
                when periods.return_lines_with_actual_costs = periods.return_lines then 'actual'
                else 'mixed'
            end as string
        ) as cost_basis,
        cast(periods.return_lines_with_actual_costs as bigint)
            as return_lines_with_actual_costs,
        cast(periods.units_sold as bigint) as units_sold,
        cast(periods.gross_revenue_eur as decimal(18, 2)) as gross_revenue_eur,
        cast(periods.cost_of_goods_sold_eur as decimal(18, 2)) as cost_of_goods_sold_eur,
        cast(
            periods.gross_revenue_eur - periods.cost_of_goods_sold_eur as decimal(18, 2)
        ) as gross_margin_eur,
        cast(periods.return_lines as bigint) as return_lines,
        cast(periods.units_returned as bigint) as units_returned,
        cast(periods.returned_value_eur as decimal(18, 2)) as returned_value_eur,
        cast(periods.refunded_eur as decimal(18, 2)) as refunded_eur,
        cast(periods.forward_shipping_eur as decimal(18, 2)) as forward_shipping_eur,
        cast(periods.return_label_eur as decimal(18, 2)) as return_label_eur,
        cast(periods.handling_eur as decimal(18, 2)) as handling_eur,
        cast(periods.refurbishment_eur as decimal(18, 2)) as refurbishment_eur,
        cast(periods.goods_at_cost_eur as decimal(18, 2)) as goods_at_cost_eur,
        cast(periods.value_recovered_eur as decimal(18, 2)) as value_recovered_eur,
        cast(periods.write_off_eur as decimal(18, 2)) as write_off_eur,
        cast(periods.refund_fees_eur as decimal(18, 2)) as refund_fees_eur,
        cast(periods.customer_fees_eur as decimal(18, 2)) as customer_fees_eur,
        cast(periods.cost_of_returns_eur as decimal(18, 2)) as cost_of_returns_eur,
        cast(
            cast(periods.cost_of_returns_eur as double) / nullif(periods.return_lines, 0)
            as double
        ) as cost_per_return_line_eur,
        cast(
            cast(periods.cost_of_returns_eur as double)
            / nullif(cast(periods.returned_value_eur as double), 0) as double
        ) as cost_share_of_returned_value,
        cast(periods.margin_lost_to_returns_eur as decimal(18, 2))
            as margin_lost_to_returns_eur,
        cast(
            periods.gross_revenue_eur - periods.cost_of_goods_sold_eur
            - periods.margin_lost_to_returns_eur as decimal(18, 2)
        ) as net_margin_after_returns_eur,
        cast(
            cast(
                periods.gross_revenue_eur - periods.cost_of_goods_sold_eur
                - periods.margin_lost_to_returns_eur as double
            )
            / nullif(cast(periods.gross_revenue_eur as double), 0) as double
        ) as net_margin_share,
        {# the cohort's last order day + 1 + 7 days delivery slack + the return window #}
        coalesce(
            cast(
                {{ dbt.dateadd(
                    'day', 8 + var('return_window_days'), 'periods.period_end_date'
                ) }} as date
            ) <= warehouse_as_of.as_of_date,
            false
        ) as is_cohort_mature,
        cast(periods.period_start_date as date) as period_start_date,
        cast(periods.period_end_date as date) as period_end_date
    from periods_with_end_dates as periods
    cross join warehouse_as_of

)

select * from final
