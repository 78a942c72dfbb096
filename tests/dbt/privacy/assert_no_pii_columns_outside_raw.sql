{#
    Privacy guard: no model may carry a PII column of the landing contracts or the shop's
    plain customer id (models key customers by customer_key, a salted hash). Columns are read
    from the built relations through the adapter, so it works on DuckDB and Spark.
    The depends_on lines make dbt build the test after the models that carry customer data;
    it scans every model that exists at that moment.
#}
-- depends_on: {{ ref('stg_shop__customers') }}
-- depends_on: {{ ref('stg_shop__orders') }}
-- depends_on: {{ ref('stg_web__events') }}
-- depends_on: {{ ref('stg_web__event_keys') }}
-- depends_on: {{ ref('stg_surveys__nps_responses') }}
-- depends_on: {{ ref('int_order_lines_joined_to_returns') }}
-- depends_on: {{ ref('kpi_weekly_returns_by_category') }}
-- depends_on: {{ ref('fct_order_lines') }}
-- depends_on: {{ ref('fct_returns') }}
-- depends_on: {{ ref('fct_nps_responses') }}
-- depends_on: {{ ref('dim_customers') }}
-- depends_on: {{ ref('kpi_nps') }}
-- depends_on: {{ ref('rpt_unmapped_reason_texts') }}
{%- set pii_columns = [
    'customer_id', 'first_name', 'last_name', 'email', 'phone', 'street', 'postal_code', 'city'
] -%}
{%- set offenders = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- set relation = adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias
        ) -%}
        {%- if relation is not none -%}
            {%- for column in adapter.get_columns_in_relation(relation) -%}
                {%- if column.name | lower in pii_columns -%}
                    {%- do offenders.append((node.name, column.name | lower)) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

with

offending_columns as (

    select
        'none' as model_name,
        'none' as column_name
    where 1 = 0
    {%- for model_name, column_name in offenders %}

    union all

    select
        '{{ model_name }}' as model_name,
        '{{ column_name }}' as column_name
    {%- endfor %}

)

select * from offending_columns
