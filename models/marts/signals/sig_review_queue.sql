{#
    The manual-review queue: every open return line (fct_returns.is_open: its status says
    open, or without a known status it is not yet refunded (an exchange not yet inspected)
    and was requested recently enough to be plausibly open; stale returns are not queued)
    as of the data's as-of moment, routed to manual review when at least one rule applies,
    otherwise auto-approved:
      premium_product       the product is premium (dim_products.is_premium)
      fragile_damage_claim  a fragile product (dim_products.is_fragile) claimed damaged in
                            transit
      risky_customer        the customer is flagged in sig_customer_return_risk
      high_value            the returned units are worth review_high_value_eur or more
    priority: 1 for a risky customer or two or more rules, 2 for premium or high value,
    3 for a fragile damage claim alone; null when auto-approved.
    A return whose order line is not (yet) in the shop export is kept, flagged
    has_known_order_line false (it has no returned value or, without its order, no customer);
    such returns are counted and gated by share in rpt_referential_integrity.
#}
with

return_lines as (

    select * from {{ ref('fct_returns') }}
    where is_open

),

products as (

    select * from {{ ref('dim_products') }}

),

customer_risk as (

    select * from {{ ref('sig_customer_return_risk') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

return_lines_with_rules as (

    select
        return_lines.rma_id,
        return_lines.order_line_id,
        return_lines.order_id,
        return_lines.sku,
        return_lines.customer_key,
        return_lines.product_id,
        return_lines.category,
        return_lines.reason,
        return_lines.resolution,
        return_lines.returned_quantity,
        return_lines.returned_value_eur,
        return_lines.requested_at,
        return_lines.received_at,
        return_lines.inspected_at,
        return_lines.has_known_order_line,
        return_lines.open_step as return_status,
        return_lines.return_state_rule,
        {{ dbt.datediff('return_lines.requested_at', 'warehouse_as_of.as_of_at', 'second') }}
        / 86400.0 as days_open,
        coalesce(products.is_premium, false) as is_premium_product,
        coalesce(
            products.is_fragile and return_lines.reason = 'damaged_in_transit', false
        ) as is_fragile_damage_claim,
        coalesce(customer_risk.is_risky, false) as is_risky_customer,
        coalesce(
            return_lines.returned_value_eur >= {{ signal_var('review_high_value_eur') }}, false
        ) as is_high_value,
        customer_risk.risk_score as customer_risk_score
    from return_lines
    cross join warehouse_as_of
    left join products
        on return_lines.sku = products.sku
    left join customer_risk
        on return_lines.customer_key = customer_risk.customer_key

),

routed as (

    select
        *,
        (
            case when is_premium_product then 1 else 0 end
            + case when is_fragile_damage_claim then 1 else 0 end
            + case when is_risky_customer then 1 else 0 end
            + case when is_high_value then 1 else 0 end
        ) as rules_matched
    from return_lines_with_rules

),

final as (

    select
        cast(rma_id as string) as rma_id,
        cast(order_line_id as string) as order_line_id,
        cast(order_id as string) as order_id,
        cast(sku as string) as sku,
        cast(customer_key as string) as customer_key,
        cast(product_id as string) as product_id,
        cast(category as string) as category,
        cast(reason as string) as reason,
        cast(resolution as string) as resolution,
        cast(return_status as string) as return_status,
        cast(return_state_rule as string) as return_state_rule,
        cast(returned_quantity as bigint) as returned_quantity,
        cast(returned_value_eur as decimal(18, 2)) as returned_value_eur,
        cast(days_open as double) as days_open,
        is_premium_product,
        is_fragile_damage_claim,
        is_risky_customer,
        is_high_value,
        cast(customer_risk_score as bigint) as customer_risk_score,
        cast(rules_matched as bigint) as rules_matched,
        rules_matched > 0 as route_to_review,
        has_known_order_line,
        cast(
            case when rules_matched > 0 then 'manual_review' else 'auto_approve' end as string
        ) as decision,
        cast(
            trim({{ dbt.concat([
                "case when is_premium_product then 'premium_product ' else '' end",
                "case when is_fragile_damage_claim then 'fragile_damage_claim ' else '' end",
                "case when is_risky_customer then 'risky_customer ' else '' end",
                "case when is_high_value then 'high_value ' else '' end",
            ]) }}) as string
        ) as review_rules,
        cast(
            case
                when rules_matched = 0 then null
                when is_risky_customer or rules_matched >= 2 then 1
                when is_premium_product or is_high_value then 2
                else 3
            end as bigint
        ) as priority,
        cast(requested_at as timestamp) as requested_at,
        cast(received_at as timestamp) as received_at,
        cast(inspected_at as timestamp) as inspected_at
    from routed

)

select * from final
