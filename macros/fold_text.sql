{#
    Fold free text for keyword matching: lower case, accents removed (é → e, ß → ss),
    every run of characters other than a-z and 0-9 made one space, padded with one space on
    both sides so a keyword written with spaces matches whole words only. Dispatched because
    regexp_replace replaces only the first match on DuckDB unless told 'g'.
#}
{% macro fold_text(expression) -%}
    {{ return(adapter.dispatch("fold_text", "returnlens")(expression)) }}
{%- endmacro %}

{% macro _fold_accents(expression) -%}
    translate(
        replace(lower({{ expression }}), 'ß', 'ss'),
        'àáâäãåāèéêëēìíîïòóôöõøùúûüçñÿœæ',
        'aaaaaaaeeeeeiiiioooooouuuucnyoa'
    )
{%- endmacro %}

{% macro default__fold_text(expression) -%}
    concat(' ', trim(regexp_replace({{ _fold_accents(expression) }}, '[^a-z0-9]+', ' ')), ' ')
{%- endmacro %}

{% macro duckdb__fold_text(expression) -%}
    concat(
        ' ', trim(regexp_replace({{ _fold_accents(expression) }}, '[^a-z0-9]+', ' ', 'g')), ' '
    )
{%- endmacro %}
