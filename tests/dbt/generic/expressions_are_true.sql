{#
    Fails for every listed expression that is false on some row: one row per such
    expression, naming it (check) with the number of rows where it is false (failing_rows).
    All of a model's expression checks in one scan and one dbt node (an expression_is_true
    test per check cost ~50 ms of dbt on every run, issue 16). Rows where an expression is
    null pass, as with expression_is_true. An entry has `expression`, and optionally
    `column` (the expression is appended to it: `expression: ">= 0"`), `name` (the check's
    name in the failure, else the column and expression) and `where` (the rows it applies
    to).
#}
{% test expressions_are_true(model, expressions) %}

    {%- set checks = [] %}
    {%- for entry in expressions %}
        {%- set column = entry.get("column") %}
        {%- set condition = (column ~ " " ~ entry["expression"]) if column else entry["expression"] %}
        {%- set label = entry.get("name") or condition %}
        {%- do checks.append((label | trim, condition | trim, entry.get("where"))) %}
    {%- endfor %}

    {%- set conditions = [] %}
    {%- for label, condition, where in checks %}
        {%- do conditions.append(
            (("(" ~ where ~ ") and ") if where else "") ~ "not (" ~ condition ~ ")"
        ) %}
    {%- endfor %}

    {{ failing_counts(model, conditions, 'failing_rows') }}

    {{ failing_check_counts(checks | map(attribute=0) | list, 'check_name', 'failing_rows') }}

{% endtest %}
