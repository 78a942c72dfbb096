{#
    Return rate of order lines by band of a pre-purchase behaviour, per category and for
    'all' categories. Deciles (bands 1..10) of decision time and of product views are ranked
    within the category (or over all lines for 'all') on web and app lines with a measured
    value; ties are split by order_line_id, so band_min/band_max show where a band really
    starts and ends. size_guide and bracketing have band 0 (no) and 1 (yes) and cover sized
    products only (products sold in more than one size), where the behaviour is possible.

    The deciles are those of ntile(10) over (partition by scope order by measure,
    order_line_id), computed without sorting the lines: ntile over every line, each twice
    (its category and 'all'), sorted ~20M rows and took ~57 s at 10M order lines. Lines are
    counted and summed per category and measured value instead (those rows summed again for
    'all'); a running sum of the counts over these rows, far fewer than lines, gives each
    row's first and last rank, and the band of a rank follows from the partition's row count
    (macro ntile_band). A row whose ranks fall in one band goes there whole; only the rows
    straddling a band boundary (at most 9 per partition) have their lines ranked by
    order_line_id. Product views has so few values that nearly all of them straddle, so its
    rows are split further by a prefix of order_line_id (sorting by value and prefix, then
    id, is sorting by value and id). Sums are of integers and band_min/band_max of the same
    measured values, so every column equals what ntile over the lines gave, bit for bit. The
    journeys mart is read where needed, not through one CTE: DuckDB materialises a CTE read
    more than once (all 10M lines).
#}
with

{# decision time has many values, few lines each (580k category and value rows at 10M) #}
decision_time_values as (

    select
        'decision_time' as behaviour,
        category,
        cast(null as bigint) as fixed_band,
        cast(decision_minutes as double) as measure,
        '' as id_prefix,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from {{ ref('sig_purchase_journeys') }}
    where decision_minutes is not null
    group by 1, 2, 3, 4, 5

),

order_line_id_range as (

    select
        min(order_line_id) as min_id,
        max(order_line_id) as max_id
    from {{ ref('sig_purchase_journeys') }}

),

{# every id starts with the prefix that the smallest and the largest share; that prefix and
   the next three characters cut the ids into ordered slices (a thousand for digits; at 10M
   'O000' to 'O644'). Two ids whose slice prefixes differ compare as the prefixes do (a
   prefix shorter than the others is a whole id, which sorts before the longer ids it
   starts), so ordering by prefix, then id, is ordering by id. Ids sharing more than 48
   characters get 50-character prefixes: still exact, only slower #}
id_prefix_length as (

    select
        case
            {%- for position in range(1, 49) %}
                when substring(min_id, 1, {{ position }}) != substring(max_id, 1, {{ position }})
                    then {{ position + 2 }}
            {%- endfor %}
            else 50
        end as prefix_length
    from order_line_id_range

),

{# product views has ~12 values of up to millions of lines each, so nearly every value
   straddles a band boundary: its rows are split further by slice of order_line_id, the
   tie-breaker, and only the lines of straddling slices get a rank (71k of 17M line rows of
   both scopes at 10M, and 140k of decision time) #}
product_views_values as (

    select
        'product_views' as behaviour,
        journeys.category,
        cast(null as bigint) as fixed_band,
        cast(journeys.product_views as double) as measure,
        substring(journeys.order_line_id, 1, id_prefix_length.prefix_length) as id_prefix,
        count(*) as order_lines,
        sum(case when journeys.has_return then 1 else 0 end) as returned_lines,
        sum(journeys.quantity) as units_sold,
        sum(journeys.returned_quantity) as units_returned
    from {{ ref('sig_purchase_journeys') }} as journeys
    cross join id_prefix_length
    where journeys.has_web_journey
    group by 1, 2, 3, 4, 5

),

{# one pass for the two yes/no behaviours of sized products #}
sized_product_values as (

    select
        category,
        has_web_journey,
        is_bracketing,
        has_size_guide_view,
        size_guide_views,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from {{ ref('sig_purchase_journeys') }}
    where is_sized_product
    group by 1, 2, 3, 4, 5

),

category_values as (

    select * from decision_time_values

    union all

    select * from product_views_values

    union all

    select
        'size_guide' as behaviour,
        category,
        cast(case when has_size_guide_view then 1 else 0 end as bigint) as fixed_band,
        cast(size_guide_views as double) as measure,
        '' as id_prefix,
        sum(order_lines) as order_lines,
        sum(returned_lines) as returned_lines,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned
    from sized_product_values
    where has_web_journey
    group by 1, 2, 3, 4, 5

    union all

    select
        'bracketing' as behaviour,
        category,
        cast(case when is_bracketing then 1 else 0 end as bigint) as fixed_band,
        cast(case when is_bracketing then 1 else 0 end as double) as measure,
        '' as id_prefix,
        sum(order_lines) as order_lines,
        sum(returned_lines) as returned_lines,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned
    from sized_product_values
    group by 1, 2, 3, 4, 5

),

scope_values as (

    select
        behaviour,
        category as category_scope,
        fixed_band,
        measure,
        id_prefix,
        order_lines,
        returned_lines,
        units_sold,
        units_returned
    from category_values

    union all

    select
        behaviour,
        'all' as category_scope,
        fixed_band,
        measure,
        id_prefix,
        sum(order_lines) as order_lines,
        sum(returned_lines) as returned_lines,
        sum(units_sold) as units_sold,
        sum(units_returned) as units_returned
    from category_values
    group by 1, 2, 3, 4, 5

),

{# ranks of a row's lines in the order (measure, order_line_id): first_rank..last_rank #}
ranked_values as (

    select
        behaviour,
        category_scope,
        measure,
        id_prefix,
        order_lines,
        returned_lines,
        units_sold,
        units_returned,
        last_rank - order_lines + 1 as first_rank,
        last_rank,
        scope_lines
    from (
        select
            *,
            cast(sum(order_lines) over (
                partition by behaviour, category_scope
                order by measure, id_prefix
                rows between unbounded preceding and current row
            ) as bigint) as last_rank,
            cast(sum(order_lines) over (
                partition by behaviour, category_scope
            ) as bigint) as scope_lines
        from scope_values
        where fixed_band is null
    ) as running_counts

),

banded_values as (

    select
        *,
        {{ ntile_band('first_rank', 'scope_lines') }} as first_band,
        {{ ntile_band('last_rank', 'scope_lines') }} as last_band
    from ranked_values

),

straddling_values as (

    select
        behaviour,
        category_scope,
        measure,
        id_prefix,
        first_rank,
        scope_lines
    from banded_values
    where first_band != last_band

),

{# the lines of a straddling row, its category's and 'all' (which joins every category) #}
straddling_lines as (

    select
        straddling_values.behaviour,
        straddling_values.category_scope,
        straddling_values.measure,
        straddling_values.id_prefix,
        straddling_values.first_rank,
        straddling_values.scope_lines,
        journeys.order_line_id,
        journeys.has_return,
        journeys.quantity,
        journeys.returned_quantity
    from {{ ref('sig_purchase_journeys') }} as journeys
    inner join straddling_values
        on journeys.decision_minutes = straddling_values.measure
    where
        straddling_values.behaviour = 'decision_time'
        and straddling_values.category_scope in (journeys.category, 'all')

    union all

    select
        straddling_values.behaviour,
        straddling_values.category_scope,
        straddling_values.measure,
        straddling_values.id_prefix,
        straddling_values.first_rank,
        straddling_values.scope_lines,
        journeys.order_line_id,
        journeys.has_return,
        journeys.quantity,
        journeys.returned_quantity
    from {{ ref('sig_purchase_journeys') }} as journeys
    cross join id_prefix_length
    inner join straddling_values
        on
            cast(journeys.product_views as double) = straddling_values.measure
            and substring(journeys.order_line_id, 1, id_prefix_length.prefix_length)
            = straddling_values.id_prefix
    where
        journeys.has_web_journey
        and straddling_values.behaviour = 'product_views'
        and straddling_values.category_scope in (journeys.category, 'all')

),

straddling_parts as (

    select
        behaviour,
        category_scope,
        {{ ntile_band('line_rank', 'scope_lines') }} as band,
        measure,
        count(*) as order_lines,
        sum(case when has_return then 1 else 0 end) as returned_lines,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned
    from (
        select
            *,
            first_rank - 1 + row_number() over (
                partition by behaviour, category_scope, measure, id_prefix
                order by order_line_id
            ) as line_rank
        from straddling_lines
    ) as ranked_lines
    group by 1, 2, 3, 4

),

band_parts as (

    select
        behaviour,
        category_scope,
        first_band as band,
        measure,
        order_lines,
        returned_lines,
        units_sold,
        units_returned
    from banded_values
    where first_band = last_band

    union all

    select * from straddling_parts

    union all

    select
        behaviour,
        category_scope,
        fixed_band as band,
        measure,
        order_lines,
        returned_lines,
        units_sold,
        units_returned
    from scope_values
    where fixed_band is not null

),

bands_aggregated as (

    select
        behaviour,
        band,
        category_scope as category,
        min(measure) as band_min,
        max(measure) as band_max,
        cast(sum(order_lines) as bigint) as order_lines,
        cast(sum(returned_lines) as bigint) as returned_lines,
        cast(sum(units_sold) as bigint) as units_sold,
        cast(sum(units_returned) as bigint) as units_returned
    from band_parts
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
