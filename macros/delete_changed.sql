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

    With `group_column` (and `current`, the relation the model reads the key's group from
    today): the rows of every group a listed key belongs to, before (in this table) or now (in
    `current`), e.g. int_orders_joined_to_repeat_purchases deletes every order of a customer
    with a listed order, since an order's row counts the customer's other orders; both sides,
    since an order moved to another customer changes the rows of the customer it left.
#}
{% macro delete_changed(key, kind, group_column=none, current=none) -%}
    {%- if group_column and current is none -%}
        {{ exceptions.raise_compiler_error(
            "delete_changed: group_column " ~ group_column ~ " needs current, the relation to"
            ~ " read the listed keys' groups from today"
        ) }}
    {%- endif -%}
    {{ return(adapter.dispatch('delete_changed', 'returnlens')(key, kind, group_column, current)) }}
{%- endmacro %}

{#- the groups of the listed keys, before (this table) and now (current): one column,
    group_column, distinct (a MERGE's source matches each target row at most once) -#}
{% macro changed_groups(key, kind, group_column, current) -%}
    select {{ group_column }}
    from {{ this }}
    where {{ key }} in ({{ changed_orders(kind) }})
    union
    select {{ group_column }}
    from {{ current }}
    where {{ key }} in ({{ changed_orders(kind) }})
{%- endmacro %}

{% macro default__delete_changed(key, kind, group_column=none, current=none) -%}
    {%- if is_incremental() and change_log_read_recorded() and group_column -%}
        delete from {{ this }}
        where {{ group_column }} in ({{ changed_groups(key, kind, group_column, current) }})
    {%- elif is_incremental() and change_log_read_recorded() -%}
        delete from {{ this }}
        where {{ key }} in ({{ changed_orders(kind) }})
    {%- elif is_incremental() -%}
        {#- built by hand (dbt build) without a read recorded by the pipeline: what changed
            since is unknown, so every row goes and the model's body appends them all -#}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_changed(key, kind, group_column=none, current=none) -%}
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
        {%- if group_column %}
        using ({{ changed_groups(key, kind, group_column, current) }}) as changed
        on target.{{ group_column }} = changed.{{ group_column }}
        {%- else %}
        using ({{ changed_orders(kind) }}) as changed
        on target.{{ key }} = changed.{{ kind }}
        {%- endif %}
        when matched then delete
    {%- endif -%}
{%- endmacro %}
