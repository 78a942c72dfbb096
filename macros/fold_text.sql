{#
    Fold free text for keyword matching: lower case, accents removed (é → e, ß → ss),
    clause punctuation (. , ; : ! ? parentheses, line breaks) kept as one ' | ' mark, every
    other run of characters other than a-z and 0-9 made one space, padded with one space on
    both sides so a keyword written with spaces matches whole words only. The clause mark
    keeps "past niet, te klein" from reading as "niet te klein" (a negation). Dispatched
    because regexp_replace replaces only the first match on DuckDB unless told 'g'.
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

{% macro _fold_clause_marks(expression) -%}
    replace(
        translate({{ _fold_accents(expression) }}, '.,;:!?()' || chr(10) || chr(13), '||||||||||'),
        '|', ' | '
    )
{%- endmacro %}

{% macro default__fold_text(expression) -%}
    concat(
        ' ', trim(regexp_replace({{ _fold_clause_marks(expression) }}, '[^a-z0-9|]+', ' ')), ' '
    )
{%- endmacro %}

{% macro duckdb__fold_text(expression) -%}
    concat(
        ' ',
        trim(regexp_replace({{ _fold_clause_marks(expression) }}, '[^a-z0-9|]+', ' ', 'g')),
        ' '
    )
{%- endmacro %}
