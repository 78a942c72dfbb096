{#
    Fails for every listed column that holds a value outside its accepted values: one row
    per such column, naming it (column_name) with the number of rows (failing_rows), never
    the values themselves. All of a model's accepted-values checks in one scan and one dbt
    node (an accepted_values test per column cost ~50 ms of dbt on every run, issue 16).
    Nulls pass, as with accepted_values. An entry has `name` (the column) and `values`.
#}
{% test accepted_values_columns(model, columns) %}

    {%- set conditions = [] %}
    {%- for column in columns %}
        {%- set quoted = [] %}
        {%- for value in column["values"] %}
            {%- do quoted.append("'" ~ (value | replace("'", "''")) ~ "'") %}
        {%- endfor %}
        {%- do conditions.append(column["name"] ~ " not in (" ~ quoted | join(", ") ~ ")") %}
    {%- endfor %}

    {{ failing_counts(model, conditions, 'failing_rows') }}

    {{ failing_check_counts(columns | map(attribute='name') | list, 'column_name', 'failing_rows') }}

{% endtest %}
