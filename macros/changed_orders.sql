{#
    For a model reading the change log (stg_loader__changed_orders): a query of the keys it
    must build again in this run, the distinct `kind` column (order_id, ordered_date,
    requested_date or responded_date) of the log's rows after the seq this model last read
    (macro change_log_read: what returnlens.incremental.plan_build wrote for its schema.table);
    use as `where key in ({{ changed_orders('order_id') }})` on an incremental build (macro
    delete_changed deletes those keys first). The model declares
    `-- depends_on: {{ ref('stg_loader__changed_orders') }}` so that dbt builds the log first
    and returnlens counts it a reader. A reader without a recorded seq is built fully by the
    pipeline; built incrementally without one (dbt run by hand), it fails naming what to do
    (macro delete_changed deletes every row instead, for a body that appends what it no
    longer holds); `dbt compile` and `dbt docs generate` compile it as if from the log's
    start.
#}
{% macro changed_orders(kind) -%}
    {%- set kinds = ['order_id', 'ordered_date', 'requested_date', 'responded_date'] -%}
    {%- if kind not in kinds -%}
        {{ exceptions.raise_compiler_error(
            "changed_orders takes one of " ~ kinds | join(', ') ~ ", not " ~ kind
        ) }}
    {%- endif -%}
    {%- set name = this.schema ~ '.' ~ this.identifier -%}
    {%- set read = change_log_read(name) -%}
    {#- dbt compile and docs generate compile it too: they need valid SQL, not a seq -#}
    {%- set building = flags.WHICH in ('run', 'build') -%}
    {%- if execute and building and (read is none or read.change_seq is none) -%}
        {{ exceptions.raise_compiler_error(
            name ~ " reads the change log, and no seq it read is recorded for this run: run it"
            ~ " with `returnlens run` (or the Dagster job), which records it, or rebuild it"
            ~ " with --full-refresh"
        ) }}
    {%- endif -%}
    select distinct {{ kind }}
    from {{ ref('stg_loader__changed_orders') }}
    where change_seq > {{ (read.change_seq if read else 0) | int }} and {{ kind }} is not null
{%- endmacro %}
