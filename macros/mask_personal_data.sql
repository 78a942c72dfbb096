{#
    Mask personal data customers type into free text before it leaves raw: e-mail addresses
    become [email], runs of 6 or more digits (phone numbers, account numbers, postcodes with
    house numbers) become [number]. Dispatched: DuckDB needs the 'g' flag to replace all matches.
#}
{% macro mask_personal_data(expression) -%}
    {{ return(adapter.dispatch("mask_personal_data", "returnlens")(expression)) }}
{%- endmacro %}

{% macro default__mask_personal_data(expression) -%}
    regexp_replace(
        regexp_replace({{ expression }}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}', '[email]'),
        '[0-9][0-9 ()+-]{4,}[0-9]',
        '[number]'
    )
{%- endmacro %}

{% macro duckdb__mask_personal_data(expression) -%}
    regexp_replace(
        regexp_replace(
            {{ expression }}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]', 'g'
        ),
        '[0-9][0-9 ()+-]{4,}[0-9]',
        '[number]',
        'g'
    )
{%- endmacro %}
