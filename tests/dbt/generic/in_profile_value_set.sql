{#
    The shop profile's value set (returnlens.yml `values.<value_set>`, dbt var
    profile_value_sets): when the set is closed, fails for every row whose value is not in it
    (the loader quarantines such rows, so a failure means a model made a value up); when the
    set is open, any value passes (values outside the list are listed in rpt_profile_values).
    Null values pass (not_null tests nulls).
#}
{% test in_profile_value_set(model, column_name, value_set) %}

    {%- set value_sets = var('profile_value_sets') %}
    {%- set spec = value_sets[value_set] %}

    select {{ column_name }}
    from {{ model }}
    {%- if spec['kind'] == 'closed' %}
    where {{ column_name }} not in (
        {%- for value in spec['values'] %}
        '{{ value | replace("'", "''") }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
    {%- else %}
    where 1 = 0
    {%- endif %}

{% endtest %}
