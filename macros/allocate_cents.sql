{#
    A parcel's amount split over the n lines it applies to, in whole cents, as a decimal EUR
    expression: every applicable line gets floor(cents / n) cents and the line ranked 1 also
    the remainder, so the lines add up to the parcel's amount exactly; lines it does not
    apply to get 0. Integer arithmetic only, the same on DuckDB and Spark.
#}
{% macro allocate_cents(cents, lines, rank, applies) -%}
    {%- set share = 'cast(floor(cast(' ~ cents ~ ' as double) / ' ~ lines ~ ') as bigint)' -%}
    cast(
        case
            when {{ applies }} and {{ lines }} > 0
                then {{ share }}
                + case when {{ rank }} = 1 then {{ cents }} - {{ lines }} * {{ share }} else 0 end
            else 0
        end as decimal(18, 0)
    ) * cast(0.01 as decimal(18, 2))
{%- endmacro %}
