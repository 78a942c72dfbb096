{#
    Referential integrity that degrades, not blocks: one row per kind of orphan (a row whose
    parent is not in the parent's export, because the parent row was quarantined or has not
    been delivered yet), with how many rows of the child are orphans, their share, the
    tolerated share and whether it is exceeded. Orphans are kept in the marts and flagged
    (fct_order_lines.has_known_customer/has_known_product/has_known_batch,
    fct_returns.has_known_order_line, sig_review_queue.has_known_order_line,
    dim_customers.has_customer_record, dim_suppliers.has_supplier_record); order lines
    without a known order are the exception (no order date, customer or channel) and are
    reported here only. The GX suite rpt_referential_integrity fails the run when a share
    exceeds its tolerance, with this mart's message.

    Tolerance of a kind: dbt var orphan_tolerance_<kind>, else var orphan_tolerance, else
    the default below (a share, 0.02 = 2 %).
#}
{%- set kinds = [
    {'kind': 'orders_without_customer', 'relation': 'orders', 'parent': 'customers',
     'child': 'stg_shop__orders', 'key': 'customer_key',
     'parent_model': 'stg_shop__customers', 'parent_key': 'customer_key', 'default': 0.02,
     'what': 'orders whose customer is not in the customer export'},
    {'kind': 'order_lines_without_order', 'relation': 'order_lines', 'parent': 'orders',
     'child': 'stg_shop__order_lines', 'key': 'order_id',
     'parent_model': 'stg_shop__orders', 'parent_key': 'order_id', 'default': 0.02,
     'what': 'order lines whose order is not in the order export (left out of the marts)'},
    {'kind': 'order_lines_without_product', 'relation': 'order_lines', 'parent': 'products',
     'child': 'stg_shop__order_lines', 'key': 'sku',
     'parent_model': 'stg_shop__products', 'parent_key': 'sku', 'default': 0.02,
     'what': 'order lines whose sku is not in the product export'},
    {'kind': 'order_lines_without_batch', 'relation': 'order_lines',
     'parent': 'production_batches', 'child': 'stg_shop__order_lines', 'key': 'batch_id',
     'parent_model': 'stg_purchasing__production_batches', 'parent_key': 'batch_id',
     'default': 0.02,
     'what': 'order lines whose recorded batch is not in the batch export'},
    {'kind': 'return_lines_without_order_line', 'relation': 'returns',
     'parent': 'order_lines', 'child': 'int_return_lines_mapped_to_reasons', 'key': 'order_line_id',
     'parent_model': 'int_order_lines_joined_to_returns', 'parent_key': 'order_line_id',
     'default': 0.05,
     'what': 'return lines whose order line is not in the shop export'},
    {'kind': 'return_lines_without_product', 'relation': 'returns', 'parent': 'products',
     'child': 'int_return_lines_mapped_to_reasons', 'key': 'sku',
     'parent_model': 'stg_shop__products', 'parent_key': 'sku', 'default': 0.02,
     'what': 'return lines whose sku is not in the product export'},
    {'kind': 'products_without_supplier', 'relation': 'products', 'parent': 'suppliers',
     'child': 'stg_shop__products', 'key': 'supplier_id',
     'parent_model': 'stg_purchasing__suppliers', 'parent_key': 'supplier_id',
     'default': 0.02, 'what': 'products whose supplier is not in the supplier export'},
    {'kind': 'batches_without_product', 'relation': 'production_batches',
     'parent': 'products', 'child': 'stg_purchasing__production_batches', 'key': 'product_id',
     'parent_model': 'stg_shop__products', 'parent_key': 'product_id', 'default': 0.02,
     'what': 'batches whose product is not in the product export'},
    {'kind': 'batches_without_supplier', 'relation': 'production_batches',
     'parent': 'suppliers', 'child': 'stg_purchasing__production_batches',
     'key': 'supplier_id', 'parent_model': 'stg_purchasing__suppliers',
     'parent_key': 'supplier_id', 'default': 0.02,
     'what': 'batches whose supplier is not in the supplier export'},
    {'kind': 'nps_responses_without_customer', 'relation': 'nps_responses',
     'parent': 'customers', 'child': 'stg_surveys__nps_responses', 'key': 'customer_key',
     'parent_model': 'stg_shop__customers', 'parent_key': 'customer_key', 'default': 0.02,
     'what': 'survey answers whose customer is not in the customer export'},
    {'kind': 'nps_responses_without_order', 'relation': 'nps_responses', 'parent': 'orders',
     'child': 'stg_surveys__nps_responses', 'key': 'order_id',
     'parent_model': 'stg_shop__orders', 'parent_key': 'order_id', 'default': 0.05,
     'what': 'survey answers about an order that is not in the order export'},
    {'kind': 'web_events_without_customer', 'relation': 'web_events', 'parent': 'customers',
     'child': 'stg_web__event_keys', 'key': 'customer_key', 'rows_column': 'events',
     'parent_model': 'stg_shop__customers', 'parent_key': 'customer_key', 'default': 0.05,
     'what': 'identified web events whose customer is not in the customer export'},
    {'kind': 'web_events_without_product', 'relation': 'web_events', 'parent': 'products',
     'child': 'stg_web__event_keys', 'key': 'sku', 'rows_column': 'events',
     'parent_model': 'stg_shop__products', 'parent_key': 'sku', 'default': 0.02,
     'what': 'web events about a sku that is not in the product export'},
    {'kind': 'demand_forecasts_without_product', 'relation': 'demand_forecasts',
     'parent': 'products', 'child': 'stg_planning__demand_forecasts', 'key': 'sku',
     'parent_model': 'stg_shop__products', 'parent_key': 'sku', 'default': 0.02,
     'what': 'forecast rows for a sku that is not in the product export'},
] %}
{#
    Each child relation is read once for all its kinds (a left join per kind), and each
    parent's distinct keys are taken once for all the kinds that check against them: the
    children are views over the raw exports (order lines, 57M web events at 10M order
    lines), and a scan per kind repeated their joins and hashing. The return lines come from
    the stored int_return_lines_mapped_to_reasons (the same rows as stg_returns__return_lines,
    whose scan masks every text), the web events from stg_web__event_keys: a kind with a
    rows_column reads a child whose rows are keys counted, and sums those counts (hashing
    each distinct customer id once instead of every event's; issue 16).
#}
{%- set children = [] %}
{%- set parents = [] %}
{%- for k in kinds %}
    {%- if k.child not in children %}{% do children.append(k.child) %}{% endif %}
    {%- if (k.parent_model, k.parent_key) not in parents %}
        {%- do parents.append((k.parent_model, k.parent_key)) %}
    {%- endif %}
{%- endfor %}
with

{% for parent_model, parent_key in parents %}
    parent_keys_{{ parent_model }}__{{ parent_key }} as (

        select distinct {{ parent_key }} as parent_key
        from {{ ref(parent_model) }}

    ),
{% endfor %}

{% for child in children %}
    {# a kind's rows are its child's rows with a key (count ignores nulls); its orphans sum
       to null when it has none, as a count over no rows would #}
    orphans_in_{{ child }} as (

        select
            {% for k in kinds if k.child == child %}
                {% if k.rows_column %}
                    {# the child's rows are keys with their number of rows: sums of those
                       counts, 0 rows (not null) when there are none, as count gives #}
                    cast(coalesce(sum(
                        case
                            when children.{{ k.key }} is not null
                                then children.{{ k.rows_column }}
                        end
                    ), 0) as bigint) as total_rows_{{ k.kind }},
                    cast(sum(
                        case
                            when children.{{ k.key }} is null then null
                            when parents_{{ k.kind }}.parent_key is null
                                then children.{{ k.rows_column }}
                            else 0
                        end
                    ) as bigint) as orphan_rows_{{ k.kind }}{% if not loop.last %},{% endif %}
                {% else %}
                    count(children.{{ k.key }}) as total_rows_{{ k.kind }},
                    sum(
                        case
                            when children.{{ k.key }} is null then null
                            when parents_{{ k.kind }}.parent_key is null then 1
                            else 0
                        end
                    ) as orphan_rows_{{ k.kind }}{% if not loop.last %},{% endif %}
                {% endif %}
            {% endfor %}
        from {{ ref(child) }} as children
        {% for k in kinds if k.child == child %}
            left join parent_keys_{{ k.parent_model }}__{{ k.parent_key }} as parents_{{ k.kind }}
                on children.{{ k.key }} = parents_{{ k.kind }}.parent_key
        {% endfor %}

    ),
{% endfor %}

counts as (

    {% for k in kinds %}
        {%- set tolerance = var('orphan_tolerance_' ~ k.kind, var('orphan_tolerance', k.default)) %}
        select
            '{{ k.kind }}' as orphan_kind,
            '{{ k.relation }}' as relation,
            '{{ k.parent }}' as parent_relation,
            '{{ k.what }}' as description,
            'orphan_tolerance_{{ k.kind }}' as tolerance_setting,
            cast({{ tolerance }} as double) as tolerance_share,
            total_rows_{{ k.kind }} as total_rows,
            orphan_rows_{{ k.kind }} as orphan_rows
        from orphans_in_{{ k.child }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

availability as (

    select * from {{ ref('rpt_source_availability') }}

),

shares as (

    select
        counts.*,
        coalesce(availability.is_delivered, true) as is_parent_delivered,
        cast(counts.orphan_rows as double) / nullif(counts.total_rows, 0) as orphan_share,
        coalesce(availability.is_delivered, true) and coalesce(
            cast(counts.orphan_rows as double) / nullif(counts.total_rows, 0)
            > counts.tolerance_share,
            false
        ) as is_over_tolerance
    from counts
    left join availability on counts.parent_relation = availability.entity

),

final as (

    select
        cast(orphan_kind as string) as orphan_kind,
        cast(relation as string) as relation,
        cast(parent_relation as string) as parent_relation,
        cast(description as string) as description,
        cast(coalesce(orphan_rows, 0) as bigint) as orphan_rows,
        cast(total_rows as bigint) as total_rows,
        cast(orphan_share as double) as orphan_share,
        tolerance_share,
        cast(tolerance_setting as string) as tolerance_setting,
        cast(
            case
                when not is_parent_delivered then 'parent_not_delivered'
                when is_over_tolerance then 'over_tolerance'
                else 'ok'
            end as string
        ) as status,
        cast(
            case when not is_parent_delivered then {{ dbt.concat([
                "description", "': not checked, '",
                "'the optional source ' ", "parent_relation", "' was not delivered'",
            ]) }} else {{ dbt.concat([
                "description", "': '",
                "cast(coalesce(orphan_rows, 0) as string)", "' of '",
                "cast(total_rows as string)", "' rows ('",
                "coalesce(cast(round(100 * orphan_share, 2) as string), '0')", "' %) '",
                "case when is_over_tolerance then 'exceed' else 'within' end",
                "' the tolerance of '",
                "cast(round(100 * tolerance_share, 2) as string)", "' %'",
                "case when is_over_tolerance then '. Check the ' else '' end",
                "case when is_over_tolerance then parent_relation else '' end",
                "case when is_over_tolerance then ' export and its quarantine on Data health "
                ~ "(rows quarantined or not delivered yet), or change the tolerance with "
                ~ "dbt var ' else '' end",
                "case when is_over_tolerance then tolerance_setting else '' end",
                "case when is_over_tolerance then ' (a share; var orphan_tolerance sets "
                ~ "every kind)' else '' end",
            ]) }} end as string
        ) as message
    from shares

)

select * from final
