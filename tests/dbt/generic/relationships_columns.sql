{#
    Fails for every listed column holding a value that its parent model does not: one row
    per such column, naming it (column_name) with the number of rows whose value is missing
    from the parent (orphan_rows), never the values themselves. All of a model's
    relationships checks in one dbt node (a relationships test per column cost ~50 ms of dbt
    on every run, issue 16). Nulls pass, as with relationships. An entry has `name` (the
    column), `to` (the parent, e.g. ref('dim_customers')), `field` (its column) and
    optionally `where` (the rows of the model it applies to, `where` of a plain
    relationships test).
#}
{% test relationships_columns(model, columns) %}

    with child as (
        select * from {{ model }}
    )

    {%- for column in columns %}
    select
        '{{ column["name"] }}' as column_name,
        count(*) as orphan_rows
    from child
    where
        child.{{ column["name"] }} is not null
        {%- if column.get("where") %}
            and ({{ column["where"] }})
        {%- endif %}
        and not exists (
            select 1
            from {{ column["to"] }} as parent
            where parent.{{ column["field"] }} = child.{{ column["name"] }}
        )
    having count(*) > 0
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

{% endtest %}
