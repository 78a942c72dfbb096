{#
    Fails for every row where the SQL boolean expression is false. Rows where it is null
    pass, so write `x between 0 and 1` rather than guarding nulls. With column_name (when
    used under a column), the expression is appended to the column: `expression: ">= 0"`.
#}
{% test expression_is_true(model, expression, column_name=none) %}

    select *
    from {{ model }}
    {%- if column_name is none %}
    where not ({{ expression }})
    {%- else %}
    where not ({{ column_name }} {{ expression }})
    {%- endif %}

{% endtest %}
