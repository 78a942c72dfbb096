{#
    The slices every KPI mart is cut by, as (slice_type, column) pairs: the all-slices
    total first, then category, supplier and channel. The column is an SQL expression of the
    fact row; the total uses the constant 'all'.
#}
{% macro kpi_slices() -%}
    {{ return([
        ("all", "'all'"),
        ("category", "category"),
        ("supplier", "supplier_id"),
        ("channel", "channel"),
    ]) }}
{%- endmacro %}
