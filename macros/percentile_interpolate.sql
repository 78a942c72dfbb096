{#
    The continuous percentile from the two sorted values it lies between: `lower_value`
    ranked floor(position) and `upper_value` ranked ceil(position), position from macro
    percentile_position. Bit for bit what the engine's own percentile_cont returns for the
    same values (tests/unit/test_percentile_macros.py checks DuckDB's), so a model can rank
    its values with a sort, which spills to disk, instead of a holistic aggregate, which holds
    every group's values in memory. Pass column names or simple expressions (each is repeated).
#}
{% macro percentile_interpolate(lower_value, upper_value, position) -%}
    {{ return(adapter.dispatch("percentile_interpolate", "returnlens")(
        lower_value, upper_value, position
    )) }}
{%- endmacro %}

{#- lower * (1 - d) + upper * d, d the position's fraction: the textbook formula -#}
{% macro default__percentile_interpolate(lower_value, upper_value, position) -%}
    {%- set d = "(" ~ position ~ " - floor(" ~ position ~ "))" -%}
    ({{ lower_value }} * (1.0 - {{ d }}) + {{ upper_value }} * {{ d }})
{%- endmacro %}

{#-
    DuckDB computes lower * (1 - d) + upper * d with a fused multiply-add (one rounding of
    lower * (1 - d) + round(upper * d)); the plain formula differs from it in the last bit for
    about one percentile in six. Emulated exactly: Dekker's product of lower and (1 - d) in two
    doubles (Veltkamp split by 2^27 + 1), Knuth's two-sum with round(upper * d), then the
    rounding errors added back before the single final rounding.
-#}
{% macro duckdb__percentile_interpolate(lower_value, upper_value, position) -%}
    {%- set d = "(" ~ position ~ " - floor(" ~ position ~ "))" -%}
    {%- set a = "(" ~ lower_value ~ ")" -%}
    {%- set b = "(1.0 - " ~ d ~ ")" -%}
    {%- set c = "(" ~ upper_value ~ " * " ~ d ~ ")" -%}
    {%- set p = "(" ~ a ~ " * " ~ b ~ ")" -%}
    {%- set a_big = "(134217729.0 * " ~ a ~ ")" -%}
    {%- set a_high = "(" ~ a_big ~ " - (" ~ a_big ~ " - " ~ a ~ "))" -%}
    {%- set a_low = "(" ~ a ~ " - " ~ a_high ~ ")" -%}
    {%- set b_big = "(134217729.0 * " ~ b ~ ")" -%}
    {%- set b_high = "(" ~ b_big ~ " - (" ~ b_big ~ " - " ~ b ~ "))" -%}
    {%- set b_low = "(" ~ b ~ " - " ~ b_high ~ ")" -%}
    {%- set product_error = "((((" ~ a_high ~ " * " ~ b_high ~ " - " ~ p ~ ") + " ~ a_high
        ~ " * " ~ b_low ~ ") + " ~ a_low ~ " * " ~ b_high ~ ") + " ~ a_low ~ " * " ~ b_low
        ~ ")" -%}
    {%- set s = "(" ~ p ~ " + " ~ c ~ ")" -%}
    {%- set z = "(" ~ s ~ " - " ~ p ~ ")" -%}
    {%- set sum_error = "((" ~ p ~ " - (" ~ s ~ " - " ~ z ~ ")) + (" ~ c ~ " - " ~ z ~ "))" -%}
    ({{ s }} + ({{ sum_error }} + {{ product_error }}))
{%- endmacro %}

{#-
    Spark's percentile_cont: (ceil - position) * lower + (position - floor) * upper, and the
    lower value itself when both ranks or both values are equal (Percentile.getPercentile).
-#}
{% macro spark__percentile_interpolate(lower_value, upper_value, position) -%}
    case
        when floor({{ position }}) = ceil({{ position }}) or {{ lower_value }} = {{ upper_value }}
            then {{ lower_value }}
        else (ceil({{ position }}) - {{ position }}) * {{ lower_value }}
            + ({{ position }} - floor({{ position }})) * {{ upper_value }}
    end
{%- endmacro %}
