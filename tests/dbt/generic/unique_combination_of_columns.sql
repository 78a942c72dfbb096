{#
    Fails for every combination of the given columns that occurs more than once
    (a composite-key uniqueness test; dbt_utils cannot be installed here).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

    {%- set columns_csv = combination_of_columns | join(", ") %}

    select
        {{ columns_csv }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1

{% endtest %}
