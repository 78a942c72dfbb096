{#
    First pre-hook of sig_purchase_journeys (incremental, append), before delete_changed (the
    listed orders' lines), so that its plan is read, as the body's is, before any row is
    deleted (after it, a product all of whose lines the log listed would be missed, and a
    plan of `all` in the body met a partial delete): on an incremental build, delete the lines macro journeys_to_rebuild says
    to build again (every line; or those ordered after today's horizon, those whose finalised
    journey was appended since this model's last read of the change log, and those of a
    product whose is_sized_product changed), so that the body appends them from today's
    inputs. Nothing on a first or full-refresh build. Dispatched: Delta rejects a subquery in
    a DELETE, so on Spark the finalised lines are deleted by a MERGE.
#}
{% macro delete_journeys_to_rebuild() -%}
    {{ return(adapter.dispatch('delete_journeys_to_rebuild', 'returnlens')()) }}
{%- endmacro %}

{% macro journeys_appended_since(seq) -%}
    select order_line_id
    from {{ ref('int_web_events_aggregated_to_order_lines') }}
    where change_seq is null or change_seq > {{ seq | int }}
{%- endmacro %}

{% macro default__delete_journeys_to_rebuild() -%}
    {%- if is_incremental() and execute -%}
        {%- set plan = journeys_to_rebuild() -%}
        {%- if plan.all -%}
            delete from {{ this }}
        {%- else -%}
            delete from {{ this }}
            where
                ordered_at > {{ plan.horizon }}
                or order_line_id in ({{ journeys_appended_since(plan.seq) }})
                {%- if plan.products %}
                or product_id in ({{ plan.products | join(', ') }})
                {%- endif %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_journeys_to_rebuild() -%}
    {{- require_delta_for_deletes("journeys are pending or were finalised since") -}}
    {%- if is_incremental() and execute -%}
        {%- set plan = journeys_to_rebuild() -%}
        {%- if plan.all -%}
            delete from {{ this }}
        {%- else -%}
            merge into {{ this }} as target
            using (
                select order_line_id
                from {{ this }}
                where
                    ordered_at > {{ plan.horizon }}
                    {%- if plan.products %}
                    or product_id in ({{ plan.products | join(', ') }})
                    {%- endif %}
                union
                {{ journeys_appended_since(plan.seq) }}
            ) as restated
            on target.order_line_id = restated.order_line_id
            when matched then delete
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
