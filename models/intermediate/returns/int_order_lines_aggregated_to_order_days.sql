{#
    Sales per KPI slice (macro kpi_slices) and day the order was placed, for
    kpi_returns_by_request_date: orders, units sold and gross revenue.
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

sales_aggregated_to_days as (

    {% for slice_type, slice_column in kpi_slices() %}
        select
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value,
            ordered_date as activity_date,
            count(distinct order_id) as orders,
            sum(quantity) as units_sold,
            sum(line_amount_eur) as gross_revenue_eur
        from order_lines
        group by 1, 2, 3
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from sales_aggregated_to_days
