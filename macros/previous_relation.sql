{#
    The relation a model of the project built in an earlier run, as it is now in the
    warehouse, or none (not built yet, or at parse time). Looked up with
    adapter.get_relation, not ref(): no DAG edge, so a model may read what a model that
    will run after it (or never in this run) built before, e.g. the change log reading the
    previous fct_order_lines to find the orders of a forgotten customer. The caller must
    handle none (first build). Raises when the project has no model of that name.
#}
{% macro previous_relation(model_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.name == model_name -%}
            {{ return(adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias
            )) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "previous_relation: the project has no model named " ~ model_name
    ) }}
{%- endmacro %}
