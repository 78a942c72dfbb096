{#
    One row per return line (fct_returns) with every cost component of the return, from the
    return_cost_parameters seed (docs/kpis.md, "Cost of returns"). All money is decimal EUR
    and rounded to the cent (half up) once, per return line and component; the marts only
    add these cents up.

    Parcel costs (return label, forward shipping given away, the customer's return fee) are
    per RMA: where a platform delivered the actual label cost or return fee of the RMA
    (stg_returns__return_lines.actual_*), the actual amount; else the seed's amount for the
    order's shipping country (else the 'default' row); either is split
    over the RMA's lines it applies to in whole cents, the remainder cents going to the line
    with the smallest order_line_id, so a parcel's lines add up to its amount exactly.
#}
{#
    A table (issue 16): read by five marts and 14 tests; as a view each recomputed every
    cost component. No free text, customers only as customer_key.

    The actual parcel amounts come from int_return_lines_mapped_to_reasons (a table, the same
    rows as stg_returns__return_lines), not from the view: a scan of the view joined and
    masked every return line again (the view alone: 7.6 s of CPU at 10M order lines) for two
    amounts.

    A parcel's line counts and its first line are grouped per RMA and joined back, not
    window functions: three windows partitioned by rma_id sorted all return lines three
    times (the model's main cost at 10M order lines). The first line is the smallest
    order_line_id, as row_number() ordered by it gave: rma_id x order_line_id is the key of
    fct_returns (not null, unique), so there are no ties.
#}
{{ config(materialized='table') }}
with

return_lines as (

    select * from {{ ref('fct_returns') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

parameters as (

    select * from {{ ref('return_cost_parameters') }}

),

actual_parcel_amounts as (

    {# a return's actual amounts repeat on each of its lines: one value per RMA #}
    select
        rma_id,
        max(actual_label_cost_eur) as actual_label_cost_eur,
        max(actual_return_fee_eur) as actual_return_fee_eur
    from {{ ref('int_return_lines_mapped_to_reasons') }}
    where actual_label_cost_eur is not null or actual_return_fee_eur is not null
    group by 1

),

parcel_amounts as (

    select
        parameter,
        applies_to,
        cast(value as decimal(18, 2)) as amount_eur
    from parameters
    where parameter in ('return_label', 'forward_shipping', 'customer_return_fee')

),

handling as (

    select
        sum(case when applies_to = 'receive' then value else 0 end) as receive_minutes,
        sum(case when applies_to = 'inspect' then value else 0 end) as inspect_minutes,
        sum(case when applies_to = 'refund' then value else 0 end) as refund_minutes,
        max(
            case when parameter = 'handling_hourly_rate' then value end
        ) as hourly_rate_eur,
        max(case when parameter = 'refund_fee_share' then value end) as refund_fee_share
    from parameters
    where parameter in ('handling_minutes', 'handling_hourly_rate', 'refund_fee_share')

),

refurbishment as (

    select
        applies_to as condition_grade,
        cast(value as decimal(18, 2)) as per_unit_eur
    from parameters
    where parameter = 'refurbishment'

),

recovery as (

    select
        applies_to as disposition,
        cast(value as decimal(18, 4)) as recovery_share
    from parameters
    where parameter = 'recovery_share'

),

return_lines_classified as (

    select
        return_lines.*,
        orders.shipping_country_code,
        products.unit_cost_eur,
        {# a label was issued: the goods were (to be) sent back #}
        (
            return_lines.resolution <> 'keep_it'
            and return_lines.return_state <> 'cancelled'
        ) as is_shipped_back,
        {# the sale is undone: refunded or credited, not replaced by an exchange #}
        (
            return_lines.is_refunded and return_lines.resolution <> 'exchange'
        ) as is_sale_undone
    from return_lines
    left join orders
        on return_lines.order_id = orders.order_id
    left join products
        on return_lines.sku = products.sku

),

parcels as (

    select
        rma_id,
        sum(case when is_shipped_back then 1 else 0 end) as shipped_back_lines_in_parcel,
        min(case when is_shipped_back then order_line_id end) as first_shipped_back_line_id,
        sum(case when is_sale_undone then 1 else 0 end) as undone_lines_in_parcel,
        min(case when is_sale_undone then order_line_id end) as first_undone_line_id
    from return_lines_classified
    group by 1

),

return_lines_ranked_in_parcels as (

    {# rank 1 is what allocate_cents reads (the line that takes the remainder cents), and
       only on the lines the amount applies to #}
    select
        return_lines_classified.*,
        parcels.shipped_back_lines_in_parcel,
        case
            when return_lines_classified.order_line_id = parcels.first_shipped_back_line_id
                then 1
            else 2
        end as shipped_back_rank,
        parcels.undone_lines_in_parcel,
        case
            when return_lines_classified.order_line_id = parcels.first_undone_line_id then 1
            else 2
        end as sale_undone_rank
    from return_lines_classified
    left join parcels
        on return_lines_classified.rma_id = parcels.rma_id

),

parcel_amounts_per_line as (

    select
        return_line.*,
        cast(
            coalesce(
                actual.actual_label_cost_eur, label_rate.amount_eur, label_default.amount_eur, 0
            ) * 100 as bigint
        ) as label_cents,
        cast(coalesce(forward_rate.amount_eur, forward_default.amount_eur, 0) * 100 as bigint)
            as forward_cents,
        cast(
            coalesce(
                actual.actual_return_fee_eur, fee_rate.amount_eur, fee_default.amount_eur, 0
            ) * 100 as bigint
        ) as fee_cents,
        case
            when actual.actual_label_cost_eur is not null then 'actual' else 'parameters'
        end as return_label_basis,
        case
            when actual.actual_return_fee_eur is not null then 'actual' else 'parameters'
        end as customer_fee_basis
    from return_lines_ranked_in_parcels as return_line
    left join actual_parcel_amounts as actual
        on return_line.rma_id = actual.rma_id
    left join parcel_amounts as label_rate
        on
            label_rate.parameter = 'return_label'
            and return_line.shipping_country_code = label_rate.applies_to
    left join parcel_amounts as label_default
        on
            label_default.parameter = 'return_label'
            and label_default.applies_to = 'default'
    left join parcel_amounts as forward_rate
        on
            forward_rate.parameter = 'forward_shipping'
            and return_line.shipping_country_code = forward_rate.applies_to
    left join parcel_amounts as forward_default
        on
            forward_default.parameter = 'forward_shipping'
            and forward_default.applies_to = 'default'
    left join parcel_amounts as fee_rate
        on
            fee_rate.parameter = 'customer_return_fee'
            and return_line.shipping_country_code = fee_rate.applies_to
    left join parcel_amounts as fee_default
        on
            fee_default.parameter = 'customer_return_fee'
            and fee_default.applies_to = 'default'

),

components as (

    select
        return_line.*,
        {{ allocate_cents('return_line.label_cents', 'return_line.shipped_back_lines_in_parcel',
            'return_line.shipped_back_rank', 'return_line.is_shipped_back') }} as return_label_eur,
        {{ allocate_cents('return_line.forward_cents', 'return_line.undone_lines_in_parcel',
            'return_line.sale_undone_rank', 'return_line.is_sale_undone') }} as forward_shipping_eur,
        {{ allocate_cents('return_line.fee_cents', 'return_line.shipped_back_lines_in_parcel',
            'return_line.shipped_back_rank', 'return_line.is_shipped_back') }} as customer_fee_eur,
        (case when return_line.received_at is not null then handling.receive_minutes else 0 end)
        + (case when return_line.inspected_at is not null then handling.inspect_minutes else 0 end)
        + (case when return_line.refunded_at is not null then handling.refund_minutes else 0 end)
            as handling_minutes,
        {# the steps a keep-it would save: receiving and inspecting the goods #}
        (case when return_line.received_at is not null then handling.receive_minutes else 0 end)
        + (case when return_line.inspected_at is not null then handling.inspect_minutes else 0 end)
            as take_back_minutes,
        handling.hourly_rate_eur,
        cast(
            coalesce(refurbishment.per_unit_eur, 0) * return_line.returned_quantity
            as decimal(18, 2)
        ) as refurbishment_eur,
        case
            when
                return_line.disposition is not null
                or (return_line.resolution = 'keep_it' and return_line.is_sale_undone)
                then cast(
                    coalesce(return_line.unit_cost_eur, 0) * return_line.returned_quantity
                    as decimal(18, 2)
                )
            else cast(0 as decimal(18, 2))
        end as goods_at_cost_eur,
        coalesce(recovery.recovery_share, 0) as recovery_share,
        case
            when return_line.is_refunded
                then cast(
                    coalesce(return_line.refund_amount_eur, 0)
                    * cast(handling.refund_fee_share as decimal(18, 4))
                    as decimal(18, 2)
                )
            else cast(0 as decimal(18, 2))
        end as refund_fee_eur
    from parcel_amounts_per_line as return_line
    cross join handling
    left join refurbishment
        on return_line.condition_grade = refurbishment.condition_grade
    left join recovery
        on return_line.disposition = recovery.disposition

),

recovered as (

    select
        *,
        cast(
            cast(handling_minutes * hourly_rate_eur as double) / 60.0 as decimal(18, 2)
        ) as handling_eur,
        cast(
            cast(take_back_minutes * hourly_rate_eur as double) / 60.0 as decimal(18, 2)
        ) as take_back_handling_eur,
        cast(goods_at_cost_eur * recovery_share as decimal(18, 2)) as value_recovered_eur
    from components

),

final as (

    select
        cast(rma_id as string) as rma_id,
        cast(order_line_id as string) as order_line_id,
        cast(order_id as string) as order_id,
        cast(sku as string) as sku,
        cast(product_id as string) as product_id,
        cast(category as string) as category,
        cast(supplier_id as string) as supplier_id,
        cast(channel as string) as channel,
        cast(customer_key as string) as customer_key,
        cast(shipping_country_code as string) as shipping_country_code,
        cast(reason as string) as reason,
        cast(resolution as string) as resolution,
        cast(disposition as string) as disposition,
        cast(condition_grade as string) as condition_grade,
        cast(return_state as string) as return_state,
        cast(returned_quantity as bigint) as returned_quantity,
        is_shipped_back,
        is_sale_undone,
        cast(coalesce(returned_value_eur, 0) as decimal(18, 2)) as returned_value_eur,
        cast(coalesce(refund_amount_eur, 0) as decimal(18, 2)) as refunded_eur,
        cast(forward_shipping_eur as decimal(18, 2)) as forward_shipping_eur,
        cast(return_label_eur as decimal(18, 2)) as return_label_eur,
        cast(handling_minutes as double) as handling_minutes,
        cast(handling_eur as decimal(18, 2)) as handling_eur,
        cast(take_back_handling_eur as decimal(18, 2)) as take_back_handling_eur,
        cast(refurbishment_eur as decimal(18, 2)) as refurbishment_eur,
        cast(goods_at_cost_eur as decimal(18, 2)) as goods_at_cost_eur,
        cast(value_recovered_eur as decimal(18, 2)) as value_recovered_eur,
        cast(goods_at_cost_eur - value_recovered_eur as decimal(18, 2)) as write_off_eur,
        cast(refund_fee_eur as decimal(18, 2)) as refund_fee_eur,
        cast(customer_fee_eur as decimal(18, 2)) as customer_fee_eur,
        cast(return_label_basis as string) as return_label_basis,
        cast(customer_fee_basis as string) as customer_fee_basis,
        cast(
            forward_shipping_eur + return_label_eur + handling_eur + refurbishment_eur
            + goods_at_cost_eur - value_recovered_eur + refund_fee_eur - customer_fee_eur
            as decimal(18, 2)
        ) as cost_of_return_eur,
        {# the undone sale's revenue given back, less the goods taken back at cost #}
        cast(
            case
                when is_sale_undone
                    then coalesce(refund_amount_eur, 0) - goods_at_cost_eur
                else 0
            end
            + forward_shipping_eur + return_label_eur + handling_eur + refurbishment_eur
            + goods_at_cost_eur - value_recovered_eur + refund_fee_eur - customer_fee_eur
            as decimal(18, 2)
        ) as margin_lost_eur,
        cast(coalesce(ordered_date, requested_date) as date) as attributed_date,
        cast(requested_date as date) as requested_date
    from recovered

)

select * from final
