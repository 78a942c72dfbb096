{#
    The bucket ntile(buckets) gives the row ranked `row_rank` (1-based) in a partition of
    `partition_rows` rows, as a bigint, computed from the two numbers alone: the first
    (n mod buckets) buckets hold floor(n / buckets) + 1 rows, the others floor(n / buckets),
    in rank order. So a model can band grouped rows by their first and last rank instead of
    sorting every row. Integer arithmetic only (%, and a division whose remainder is
    subtracted first, cast back to bigint, so exact on DuckDB and Spark, where / gives a
    double); the nullif keeps Spark's ANSI mode from dividing by zero in the branch that
    partitions of fewer than `buckets` rows never reach.
#}
{% macro ntile_band(row_rank, partition_rows, buckets=10) -%}
    {%- set n = '(' ~ partition_rows ~ ')' -%}
    {%- set r = '(' ~ row_rank ~ ')' -%}
    {%- set small = 'cast((' ~ n ~ ' - ' ~ n ~ ' % ' ~ buckets ~ ') / ' ~ buckets ~ ' as bigint)' -%}
    {%- set large_rows = '(' ~ n ~ ' % ' ~ buckets ~ ') * (' ~ small ~ ' + 1)' -%}
    {%- set in_large = r ~ ' - 1' -%}
    {%- set in_small = '(' ~ r ~ ' - 1 - ' ~ large_rows ~ ')' -%}
    cast(case
        when {{ r }} <= {{ large_rows }}
            then ({{ in_large }} - ({{ in_large }}) % ({{ small }} + 1)) / ({{ small }} + 1) + 1
        else {{ n }} % {{ buckets }}
            + ({{ in_small }} - {{ in_small }} % nullif({{ small }}, 0)) / nullif({{ small }}, 0)
            + 1
    end as bigint)
{%- endmacro %}
