{#
    Return rate of order lines by band of a pre-purchase behaviour, per category and for
    'all' categories. Deciles (bands 1..10) of decision time and of product views are ranked
    within the category (or over all lines for 'all') on web and app lines with a measured
    value; ties are split by order_line_id, so band_min/band_max show where a band really
    starts and ends. size_guide and bracketing have band 0 (no) and 1 (yes) and cover sized
    products only (products sold in more than one size), where the behaviour is possible.
#}
with

journeys as (

    select * from {{ ref('sig_purchase_journeys') }}

),

category_scopes as (

    select
        order_line_id,
        category as category_scope
    from journeys

    union all

    select
        order_line_id,
        'all' as category_scope
    from journeys

),

lines_in_scopes as (

    select
        category_scopes.category_scope,
        journeys.*
    from journeys
    inner join category_scopes
        on journeys.order_line_id = category_scopes.order_line_id

),

banded_lines as (

    select
        'decision_time' as behaviour,
        category_scope,
        cast(ntile(10) over (
            partition by category_scope order by decision_minutes, order_line_id
        ) as bigint) as band,
        cast(decision_minutes as double) as measure,
        has_return,
        quantity,
        returned_quantity
    from lines_in_scopes
    where decision_minutes is not null

    union all

    select
        'product_views' as behaviour,
        category_scope,
        cast(ntile(10) over (
            partition by category_scope order by product_views, order_line_id
        ) as bigint) as band,
        cast(product_views as double) as measure,
        has_return,
        quantity,
        returned_quantity
    from lines_in_scopes
    where has_web_journey

    union all

    select
        'size_guide' as behaviour,
        category_scope,
        cast(case when has_size_guide_view then 1 else 0 end as bigint) as band,
        cast(size_guide_views as double) as measure,
        has_return,
        quantity,
        returned_quantity
    from lines_in_scopes
    where has_web_journey and is_sized_product

    union all

    select
        'bracketing' as behaviour,
        category_scope,
        cast(case when is_bracketing then 1 else 0 end as bigint) as band,
        cast(case when is_bracketing then 1 else 0 end as double) as measure,
        has_return,
        quantity,
        returned_quantity
    from lines_in_scopes
    where is_sized_product

),

bands_aggregated as (

    select
        behaviour,
        band,
        category_scope as category,
        min(measure) as band_min,
        max(measure) as band_max,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from banded_lines
    group by 1, 2, 3

),

final as (

    select
        cast(behaviour as string) as behaviour,
        band,
        cast(category as string) as category,
        cast(
            case
                when behaviour in ('size_guide', 'bracketing') and band = 1 then 'yes'
                when behaviour in ('size_guide', 'bracketing') then 'no'
                else 'decile ' || cast(band as string)
            end as string
        ) as band_label,
        cast(band_min as double) as band_min,
        cast(band_max as double) as band_max,
        cast(order_lines as bigint) as order_lines,
        cast(returned_lines as bigint) as returned_lines,
        cast(units_sold as bigint) as units_sold,
        cast(units_returned as bigint) as units_returned,
        cast(returned_lines as double) / order_lines as return_rate,
        cast({{ wilson_bound('returned_lines', 'order_lines', 'lower') }} as double)
            as return_rate_lower_95,
        cast({{ wilson_bound('returned_lines', 'order_lines', 'upper') }} as double)
            as return_rate_upper_95
    from bands_aggregated

)

select * from final
