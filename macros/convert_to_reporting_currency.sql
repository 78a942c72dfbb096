{#
    An amount of an order converted into the reporting currency with the order's exchange rate
    (reporting-currency value of one unit of the order's currency; 1 for the reporting
    currency, which gives the amount unchanged), rounded half-up to the cent: each amount on
    its own, as a shop's invoice would state it, so a converted line amount is
    quantity x converted unit price - converted discount and sums add up cent for cent.
    Half-up, not half-even, because it is what shops and accounting systems print and what
    Spark's round does on decimals; DuckDB rounds decimals half away from zero, the same for
    the non-negative amounts the contracts allow. Decimal arithmetic throughout (a double
    would misplace a half cent). Dispatched for the types: DuckDB gives decimal(18) operands a
    decimal(18) product and overflows, so its amount is widened to decimal(38, 2); Spark's
    decimal(18, 2) x decimal(18, 12) is an exact decimal(37, 14).
#}
{% macro convert_to_reporting_currency(amount, rate) -%}
    {{ return(adapter.dispatch("convert_to_reporting_currency", "returnlens")(amount, rate)) }}
{%- endmacro %}

{% macro default__convert_to_reporting_currency(amount, rate) -%}
    cast(
        round(
            cast({{ amount }} as decimal(18, 2)) * cast({{ rate }} as decimal(18, 12)), 2
        ) as decimal(18, 2)
    )
{%- endmacro %}

{% macro duckdb__convert_to_reporting_currency(amount, rate) -%}
    cast(
        round(
            cast({{ amount }} as decimal(38, 2)) * cast({{ rate }} as decimal(18, 12)), 2
        ) as decimal(18, 2)
    )
{%- endmacro %}
