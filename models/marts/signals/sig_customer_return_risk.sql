{#
    Return behaviour per customer with orders, and an explainable risk score 0-100 built
    from three components, each shrunk toward the population so a customer with little
    history is not judged on a handful of lines:
      40 pts  return rate of lines (shrunk, prior risk_prior_lines lines at the population
              rate), scaled from the population rate (0) to population + 0.45 (full)
      35 pts  share of inspected return lines graded worn or empty box (shrunk, prior
              risk_prior_inspected lines), scaled from population (0) to 0.5 (full)
      25 pts  share of returns (RMAs) requested within risk_fast_return_days days after
              delivery (shrunk, prior risk_prior_rmas), scaled from population (0) to 1
    is_risky when the score reaches risk_score_threshold; risk_reasons says in words which
    components contributed at least a third of their points. The per-customer counts come
    from int_customers_aggregated_for_return_risk.
#}
with

customers as (

    select * from {{ ref('int_customers_aggregated_for_return_risk') }}

),

population as (

    select
        cast(sum(returned_lines) as double) / nullif(sum(order_lines), 0) as return_rate,
        cast(sum(worn_or_empty_return_lines) as double)
        / nullif(sum(inspected_return_lines), 0) as worn_share,
        cast(sum(fast_rmas) as double) / nullif(sum(rmas_with_delivery), 0) as fast_share
    from customers

),

shrunk as (

    select
        customers.*,
        (
            customers.returned_lines
            + {{ signal_var('risk_prior_lines') }} * population.return_rate
        ) / (customers.order_lines + {{ signal_var('risk_prior_lines') }}) as shrunk_return_rate,
        (
            customers.worn_or_empty_return_lines
            + {{ signal_var('risk_prior_inspected') }} * population.worn_share
        ) / (customers.inspected_return_lines + {{ signal_var('risk_prior_inspected') }})
            as shrunk_worn_share,
        (
            customers.fast_rmas + {{ signal_var('risk_prior_rmas') }} * population.fast_share
        ) / (customers.rmas_with_delivery + {{ signal_var('risk_prior_rmas') }})
            as shrunk_fast_share,
        population.return_rate as population_return_rate,
        population.worn_share as population_worn_share,
        population.fast_share as population_fast_share
    from customers
    cross join population

),

components as (

    {# a share the shop has no data for (no return inspected, no delivery time: null
       population share) gives no points: least and greatest skip nulls in DuckDB and
       Spark alike, so an uncoalesced null scored full points #}
    select
        *,
        40 * greatest(least(
            coalesce((shrunk_return_rate - population_return_rate) / 0.45, 0.0), 1.0
        ), 0.0) as return_rate_points,
        35 * greatest(least(
            coalesce(
                (shrunk_worn_share - population_worn_share)
                / nullif(0.5 - population_worn_share, 0),
                0.0
            ),
            1.0
        ), 0.0) as worn_points,
        25 * greatest(least(
            coalesce(
                (shrunk_fast_share - population_fast_share)
                / nullif(1.0 - population_fast_share, 0),
                0.0
            ),
            1.0
        ), 0.0) as fast_return_points
    from shrunk

),

scored as (

    select
        *,
        cast(round(
            coalesce(return_rate_points, 0) + coalesce(worn_points, 0)
            + coalesce(fast_return_points, 0)
        ) as bigint) as risk_score
    from components

),

final as (

    select
        cast(customer_key as string) as customer_key,
        cast(order_lines as bigint) as order_lines,
        cast(returned_lines as bigint) as returned_lines,
        cast(returned_lines as double) / order_lines as return_rate,
        cast(shrunk_return_rate as double) as shrunk_return_rate,
        cast(value_bought_eur as decimal(18, 2)) as value_bought_eur,
        cast(value_returned_eur as decimal(18, 2)) as value_returned_eur,
        cast(rmas as bigint) as rmas,
        cast(inspected_return_lines as bigint) as inspected_return_lines,
        cast(worn_or_empty_return_lines as bigint) as worn_or_empty_return_lines,
        cast(worn_or_empty_return_lines as double) / nullif(inspected_return_lines, 0)
            as worn_or_empty_share,
        cast(fast_rmas as bigint) as fast_rmas,
        cast(median_days_delivery_to_request as double) as median_days_delivery_to_request,
        cast(return_rate_points as double) as return_rate_points,
        cast(worn_points as double) as worn_points,
        cast(fast_return_points as double) as fast_return_points,
        risk_score,
        risk_score >= {{ signal_var('risk_score_threshold') }} as is_risky,
        cast(
            {{ dbt.concat([
                "case when return_rate_points >= 40 / 3.0 then 'returns ' || "
                ~ "cast(returned_lines as string) || ' of ' || cast(order_lines as string) || "
                ~ "' lines; ' else '' end",
                "case when worn_points >= 35 / 3.0 then "
                ~ "cast(worn_or_empty_return_lines as string) || ' of ' || "
                ~ "cast(inspected_return_lines as string) || "
                ~ "' inspected returns worn or empty box; ' else '' end",
                "case when fast_return_points >= 25 / 3.0 then "
                ~ "cast(fast_rmas as string) || ' of ' || cast(rmas_with_delivery as string) || "
                ~ "' returns requested within " ~ signal_var('risk_fast_return_days')
                ~ " days of delivery; ' else '' end",
            ]) }} as string
        ) as risk_reasons
    from scored

)

select * from final
