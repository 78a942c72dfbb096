{#
    Fails for every listed column that holds a null: one row per such column, naming it
    (column_name) with the number of rows where it is null (null_rows). All of a model's
    not-null checks in one scan and one dbt node: a `not_null` test per column cost ~50 ms of
    dbt per column on every run (174 of them, issue 16). An entry is a column name, or
    {name: <column>, where: <condition>} for a column that must be filled only where the
    condition holds (`where` of a plain not_null test).
#}
{% test not_null_columns(model, columns) %}

    {%- set checks = [] %}
    {%- for column in columns %}
        {%- if column is mapping %}
            {%- do checks.append((column["name"], column.get("where"))) %}
        {%- else %}
            {%- do checks.append((column, none)) %}
        {%- endif %}
    {%- endfor %}

    {%- set conditions = [] %}
    {%- for name, condition in checks %}
        {%- do conditions.append(
            name ~ " is null" ~ ((" and (" ~ condition ~ ")") if condition else "")
        ) %}
    {%- endfor %}

    {{ failing_counts(model, conditions, 'null_rows') }}

    {{ failing_check_counts(checks | map(attribute=0) | list, 'column_name', 'null_rows') }}

{% endtest %}
