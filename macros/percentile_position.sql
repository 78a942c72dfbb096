{#
    Where the continuous percentile `fraction` of `count_expression` sorted values lies, as
    a zero-based fractional rank: (n - 1) * fraction, in double as percentile_cont computes it
    (on DuckDB and Spark). The percentile interpolates between the values ranked
    floor(position) and ceil(position) (macro percentile_interpolate), so an exact percentile
    needs only those two values of a sort (row_number), never all values of a group in memory.
#}
{% macro percentile_position(count_expression, fraction) -%}
    (cast({{ count_expression }} - 1 as double) * cast({{ fraction }} as double))
{%- endmacro %}
