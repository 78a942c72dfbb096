{#
    Mask one name of the writer in their own free text: whole-word, case-insensitive
    occurrences of the name (a first name, or a last name with its particles such as
    "de Vries") become [name]. Names shorter than two characters are left alone, and the
    regular expression is built only for rows whose text contains the name at all (a cheap
    substring test). Apply it to a column, once per name, in successive CTEs. Dispatched:
    DuckDB escapes the name with regexp_escape and matches the letters around it (RE2 has no
    look-ahead, and its \b knows ASCII letters only), Spark quotes it with \Q...\E and uses
    a look-ahead.
#}
{% macro mask_customer_name(column_name, name) -%}
    {{ return(adapter.dispatch("mask_customer_name", "returnlens")(column_name, name)) }}
{%- endmacro %}

{% macro default__mask_customer_name(column_name, name) -%}
    case
        when length(trim({{ name }})) >= 2
            and instr(lower({{ column_name }}), lower(trim({{ name }}))) > 0
            then regexp_replace(
                {{ column_name }},
                concat('(?i)(^|[^\\pL])\\Q', trim({{ name }}), '\\E(?=$|[^\\pL])'),
                '$1[name]'
            )
        else {{ column_name }}
    end
{%- endmacro %}

{% macro duckdb__mask_customer_name(column_name, name) -%}
    case
        when length(trim({{ name }})) >= 2
            and contains(lower({{ column_name }}), lower(trim({{ name }})))
            -- twice: a match consumes the separator after the name, so the second of two
            -- adjacent occurrences ("anna anna") is found by the second pass
            then regexp_replace(
                regexp_replace(
                    {{ column_name }},
                    '(^|[^\pL])' || regexp_escape(trim({{ name }})) || '($|[^\pL])',
                    '\1[name]\2',
                    'gi'
                ),
                '(^|[^\pL])' || regexp_escape(trim({{ name }})) || '($|[^\pL])',
                '\1[name]\2',
                'gi'
            )
        else {{ column_name }}
    end
{%- endmacro %}
