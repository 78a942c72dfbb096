{#
    Pre-hook of a model reading the change log (incremental, append): on an incremental build,
    delete its rows whose `key` column is among the keys the log lists for it (macro
    changed_orders(kind)), so that the run's append builds them again from today's inputs.
    Nothing on a first or full-refresh build. Built incrementally without a recorded read (a
    `dbt build` by hand on a warehouse whose last run built this model fully, or that the
    pipeline never planned), every row is deleted: the model's body must append the rows it
    no longer holds (an anti-join on its key, as fct_order_lines), not filter by
    changed_orders. Dispatched: Spark deletes rows from Delta tables
    only (without Delta it says what to do instead), and Delta rejects a subquery in a DELETE,
    so on Spark the keys are deleted by a MERGE ... WHEN MATCHED THEN DELETE.
#}
{% macro delete_changed(key, kind) -%}
    {{ return(adapter.dispatch('delete_changed', 'returnlens')(key, kind)) }}
{%- endmacro %}

{% macro default__delete_changed(key, kind) -%}
    {%- if is_incremental() and change_log_read_recorded() -%}
        delete from {{ this }}
        where {{ key }} in ({{ changed_orders(kind) }})
    {%- elif is_incremental() -%}
        {#- built by hand (dbt build) without a read recorded by the pipeline: what changed
            since is unknown, so every row goes and the model's body appends them all -#}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_changed(key, kind) -%}
    {%- if is_incremental() and config.get('file_format') != 'delta' -%}
        {{ exceptions.raise_compiler_error(
            this ~ " reads the change log: each run deletes the rows of the changed orders and"
            ~ " appends them again, and Spark deletes rows from Delta tables only; set"
            ~ " file_format delta on the model, or rebuild it with --full-refresh on every run"
        ) }}
    {%- elif is_incremental() and not change_log_read_recorded() -%}
        delete from {{ this }}
    {%- elif is_incremental() -%}
        {#- open-source Delta rejects a subquery in a DELETE's condition: a MERGE deletes -#}
        merge into {{ this }} as target
        using ({{ changed_orders(kind) }}) as changed
        on target.{{ key }} = changed.{{ kind }}
        when matched then delete
    {%- endif -%}
{%- endmacro %}
