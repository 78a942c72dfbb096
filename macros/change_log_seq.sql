{#
    This run's seq of the change log (stg_loader__changed_orders), as plan_build recorded it
    for the log's build (macro change_log_read), or none when the log is not built in this run
    (a subset chosen in the UI, a dbt run by hand) and at parse time. For a model that stamps
    its rows with the run that appended them without reading the log itself
    (int_web_events_aggregated_to_order_lines): no ref(), so no DAG edge and no reader's seq
    to keep.
#}
{% macro change_log_seq() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {#- graph.get: a dbt unit test's graph holds no nodes -#}
    {%- for node in graph.get('nodes', {}).values() -%}
        {%- if node.resource_type == 'model' and node.name == 'stg_loader__changed_orders' -%}
            {%- set read = change_log_read(node.schema ~ '.' ~ node.alias) -%}
            {{ return(read.change_seq if read is not none else none) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
