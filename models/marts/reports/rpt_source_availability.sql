{#
    Which landing sources the shop delivered, one row per landing entity. Web events, NPS
    surveys, demand forecasts, suppliers, production batches and interventions are optional unless the shop
    profile makes them required (var optional_entities): a shop without them still
    gets every other mart, while the marts listed in marts_affected are published empty and
    readers (dashboard, BI) show the message instead of charts. The list of affected marts is
    the one in returnlens/quality/availability.py (MARTS_NEEDING; a unit test keeps both equal).
    A file counts as delivered while its latest audit row is not 'gone'.
    One more row, processing_timestamps, is about optional columns of a delivered entity: a
    returns export with neither received_at nor refunded_at on any row leaves the
    processing-time marts empty, "not available: no processing timestamps delivered" (the
    list is FIELDS_NEEDED in returnlens/quality/availability.py).
#}
{%- set entities = [
    ('shop', 'customers', none),
    ('shop', 'products', none),
    ('shop', 'orders', none),
    ('shop', 'order_lines', none),
    ('returns', 'returns', none),
    ('purchasing', 'suppliers', none),
    ('web', 'web_events', 'sig_purchase_journeys, sig_return_rate_by_behaviour_band'),
    ('surveys', 'nps_responses', 'fct_nps_responses, kpi_nps'),
    ('planning', 'demand_forecasts', 'sig_forecast_backtest, sig_return_aware_forecasts'),
    ('purchasing', 'production_batches', 'dim_batches, sig_batch_quality'),
    ('interventions', 'interventions', 'sig_intervention_effects'),
    ('exchange_rates', 'exchange_rates', none),
] -%}
{#- the shop profile's optional entities (dbt var from returnlens.yml; contracts' default) -#}
{%- set optional_entities = var('optional_entities') -%}
{%- set words = "replace(entity, '_', ' ')" -%}
with

load_audit as (

    select * from {{ source('loader', 'load_audit') }}

),

entities as (
    {% for landing_source, entity, marts in entities %}
        select
            '{{ landing_source }}' as landing_source,
            '{{ entity }}' as entity,
            {{ 'true' if entity in optional_entities else 'false' }} as is_optional,
            {{ "'" ~ marts ~ "'" if marts else 'cast(null as string)' }} as marts_affected,
            (
                select count(*) from {{ source(landing_source, entity) }}
            ) as row_count
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

file_states as (

    select
        entity,
        source_file,
        status,
        row_number() over (
            partition by entity, source_file
            order by finished_at desc nulls last, started_at desc, status asc
        ) as recency_rank
    from load_audit
    where entity is not null

),

delivered_files as (

    select
        entity,
        count(*) as file_count
    from file_states
    where recency_rank = 1 and status <> 'gone'
    group by 1

),

processing_timestamps as (

    select
        'returns' as landing_source,
        'processing_timestamps' as entity,
        true as is_optional,
        'kpi_return_processing_times' as marts_affected,
        count(*) as row_count,
        count(distinct _source_file) as file_count
    from {{ source('returns', 'returns') }}
    where received_at is not null or refunded_at is not null

),

joined as (

    select
        entities.landing_source,
        entities.entity,
        entities.is_optional,
        entities.marts_affected,
        entities.row_count,
        coalesce(delivered_files.file_count, 0) as file_count
    from entities
    left join delivered_files on entities.entity = delivered_files.entity

    union all

    select
        landing_source,
        entity,
        is_optional,
        marts_affected,
        row_count,
        file_count
    from processing_timestamps

),

final as (

    select
        cast(landing_source as string) as landing_source,
        cast(entity as string) as entity,
        cast(is_optional as boolean) as is_optional,
        cast(file_count > 0 or row_count > 0 as boolean) as is_delivered,
        cast(file_count as bigint) as files,
        cast(row_count as bigint) as rows_loaded,
        cast(marts_affected as string) as marts_affected,
        cast(
            case
                when file_count > 0 or row_count > 0 then 'delivered'
                when is_optional
                    then {{ dbt.concat(["'not available: no '", words, "' delivered'"]) }}
                else {{ dbt.concat(["'missing: no '", words, "' delivered (required)'"]) }}
            end as string
        ) as message
    from joined

)

select * from final
