{#
    Fails for every listed column holding a value more than once: one row per such column,
    naming it (column_name) with the number of values that repeat (duplicated_values), never
    the values themselves. Each column is checked on its own, as a unique test per column
    would (for a key of several columns use unique_combination_of_columns), in one dbt node:
    a test per column cost ~50 ms of dbt on every run (issue 16). Nulls pass, as with unique.
    An entry is a column name.
#}
{% test unique_columns(model, columns) %}

    with checked as (
        select * from {{ model }}
    )

    {%- for column in columns %}
    select
        '{{ column }}' as column_name,
        count(*) as duplicated_values
    from (
        select {{ column }}
        from checked
        where {{ column }} is not null
        group by {{ column }}
        having count(*) > 1
    ) as repeated
    having count(*) > 0
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

{% endtest %}
