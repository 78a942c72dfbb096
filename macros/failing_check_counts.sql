{#
    The CTE failing_counts of a batched generic test (tests/dbt/generic/): one scan of the
    model counting, for the n-th condition, the rows where it holds (a failing row) as
    <count_column>_<n>.
#}
{% macro failing_counts(model, conditions, count_column) %}
    with failing_counts as (
        select
            {%- for condition in conditions %}
            sum(
                case
                    when {{ condition }} then 1
                    else 0
                end
            ) as {{ count_column }}_{{ loop.index }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ model }}
    )
{% endmacro %}

{#
    The result of a batched generic test (tests/dbt/generic/): from the CTE failing_counts,
    whose column <count_column>_<n> counts the failing rows of the n-th check, one row per
    check that fails, with its label and its count; no rows when all pass.
#}
{% macro failing_check_counts(labels, label_column, count_column) %}
    {%- for label in labels %}
    select
        '{{ label | replace("'", "''") }}' as {{ label_column }},
        {{ count_column }}_{{ loop.index }} as {{ count_column }}
    from failing_counts
    where {{ count_column }}_{{ loop.index }} > 0
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}
