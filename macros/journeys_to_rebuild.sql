{#
    What an incremental build of sig_purchase_journeys builds again, besides the lines of the
    orders the change log lists (macro changed_orders): read before the build (the model's
    first pre-hook, delete_journeys_to_rebuild, and its body each call it, both before any row
    is deleted, so both see the same; the body then builds the lines the table no longer
    holds, so a line is never appended twice), as a dict:
    - all: every line (no web event loaded, the finalised journeys not built in this run, no
      read of the change log recorded, or nothing built yet);
    - horizon: today's finalisation horizon (macro journey_horizon) as a checked timestamp
      literal (none: `all`): the lines ordered after it, among them every pending one (the
      finalised journeys, built earlier in this run, hold every line with a purchase session
      ordered up to it), whose journeys follow the events loaded so far;
    - seq: the change log's seq this model last read; the lines whose finalised journey was
      appended after it (change_seq above it, or null: appended without the log) were pending
      at its last build, or are recomputed by a backfill or a full rebuild of the journeys;
    - products: the product ids whose is_sized_product (more than one size over all skus of
      the product) differs from the stored one, as checked literals: a new or re-sized sku
      changes the other skus' lines, which the log does not list. Ids that are not plain
      words make `all` true instead of being pasted into SQL.
    The order-keyed inputs (a line's facts, its order's session, the sizes in its order) are
    the listed orders'. Literals, not subqueries where a value will do: Delta's DELETE takes
    no subquery.
#}
{% macro journeys_to_rebuild() -%}
    {%- set plan = {'all': true, 'horizon': none, 'seq': none, 'products': []} -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- set read = change_log_read(this.schema ~ '.' ~ this.identifier) -%}
    {%- set finalised = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model'
            and node.name == 'int_web_events_aggregated_to_order_lines' -%}
            {%- do finalised.append(node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set checked = run_query(
        "select (select count(*) from " ~ ref('stg_web__events') ~ "), (select count(*) from "
        ~ this ~ ")"
    ) -%}
    {%- if read is none or read.change_seq is none
        or finalised | length != 1 or finalised[0] not in selected_resources
        or checked.rows[0][0] == 0 or checked.rows[0][1] == 0 -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- set found = run_query(
        "select cast(finalised_until as " ~ dbt.type_string() ~ ") from ("
        ~ journey_horizon() ~ ") as horizon"
    ) -%}
    {%- set value = found.rows[0][0] if found.rows | length else none -%}
    {%- if value is none -%}
        {{ return(plan) }}
    {%- endif -%}
    {#- parsed, then written back from the parsed value: never pasted into SQL as read -#}
    {%- set moment = modules.datetime.datetime.fromisoformat(value | string) -%}
    {%- do plan.update({'horizon': "cast('" ~ moment.isoformat(sep=' ') ~ "' as timestamp)"}) -%}
    {%- set resized = run_query(
        "select built.product_id from (select distinct product_id, is_sized_product from "
        ~ this ~ " where product_id is not null) as built left join (select product_id,"
        ~ " count(distinct size) as sizes from " ~ ref('dim_products') ~ " group by 1) as"
        ~ " sizes on built.product_id = sizes.product_id where built.is_sized_product <>"
        ~ " (coalesce(sizes.sizes, 0) > 1) order by 1"
    ) -%}
    {%- set products = [] -%}
    {%- for row in resized.rows -%}
        {%- if not modules.re.fullmatch('[A-Za-z0-9_.:/ -]+', row[0] | string) -%}
            {{ return(plan) }}
        {%- endif -%}
        {%- do products.append("'" ~ row[0] ~ "'") -%}
    {%- endfor -%}
    {%- do plan.update({'all': false, 'seq': read.change_seq | int, 'products': products}) -%}
    {{ return(plan) }}
{%- endmacro %}
