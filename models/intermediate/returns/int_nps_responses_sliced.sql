{#
    NPS responses once per KPI slice they belong to: every response in the 'all' slice, and
    a response about an order in the category, supplier and channel slices of that order's
    lines (an order with two categories counts in both; two lines of one category once).
#}
with

nps_responses as (

    select * from {{ ref('fct_nps_responses') }}

),

{# the slices of the orders that have a response only (the inner join below drops the
   others): distinct over their lines, not over all 10M order lines. Each slice reads the
   tables, not CTEs: DuckDB materialises a CTE read more than once (all order lines, 10 s at
   10M, in each of the two readers of this view) #}
order_slices as (

    {% for slice_type, slice_column in kpi_slices() if slice_type != 'all' %}
        select distinct
            order_id,
            '{{ slice_type }}' as slice_type,
            {{ slice_column }} as slice_value
        from {{ ref('fct_order_lines') }}
        where
            order_id in (
                select responses.order_id from {{ ref('fct_nps_responses') }} as responses
            )
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

responses_in_all_slice as (

    select
        'all' as slice_type,
        'all' as slice_value,
        response_id,
        customer_key,
        order_id,
        touchpoint,
        refund_speed,
        score,
        rating,
        is_promoter,
        is_detractor,
        is_returner,
        responded_date
    from nps_responses

),

responses_in_order_slices as (

    select
        order_slices.slice_type,
        order_slices.slice_value,
        nps_responses.response_id,
        nps_responses.customer_key,
        nps_responses.order_id,
        nps_responses.touchpoint,
        nps_responses.refund_speed,
        nps_responses.score,
        nps_responses.rating,
        nps_responses.is_promoter,
        nps_responses.is_detractor,
        nps_responses.is_returner,
        nps_responses.responded_date
    from nps_responses
    inner join order_slices
        on nps_responses.order_id = order_slices.order_id

),

final as (

    select
        slice_type,
        slice_value,
        response_id,
        customer_key,
        order_id,
        touchpoint,
        refund_speed,
        score,
        rating,
        is_promoter,
        is_detractor,
        is_returner,
        responded_date
    from responses_in_all_slice

    union all

    select
        slice_type,
        slice_value,
        response_id,
        customer_key,
        order_id,
        touchpoint,
        refund_speed,
        score,
        rating,
        is_promoter,
        is_detractor,
        is_returner,
        responded_date
    from responses_in_order_slices

)

select * from final
