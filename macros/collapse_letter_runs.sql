{#
    Shortens every run of three or more equal vowels (a e i o u y: the letters customers
    stretch, "veeel te klein", "tooo small", "zuuu groß", "trooop petit", "waaay") to `kept`
    letters (1 or 2); run with kept=2 and kept=1 and match both, so "veeel" reads as "veel"
    and "zuuu" as "zu". Texts without such a run are returned unchanged without running the
    replacements. Dispatched: Spark's regex has back-references (one replacement), DuckDB's
    RE2 has not (one replacement per vowel, only for texts that have a run).
#}
{% macro collapse_letter_runs(expression, kept) -%}
    {{ return(adapter.dispatch("collapse_letter_runs", "returnlens")(expression, kept)) }}
{%- endmacro %}

{% macro default__collapse_letter_runs(expression, kept) -%}
    regexp_replace({{ expression }}, '([aeiouy])\\1{2,}', '{{ "$1" * kept }}')
{%- endmacro %}

{% macro duckdb__collapse_letter_runs(expression, kept) -%}
    {%- set letters = "aeiouy" -%}
    case
        when regexp_matches(
            {{ expression }},
            '{% for letter in letters %}{{ letter * 3 }}{{ "|" if not loop.last }}{% endfor %}'
        )
            then
            {%- for letter in letters %} regexp_replace({%- endfor %}
            {{ expression }}
            {%- for letter in letters %}, '{{ letter }}{3,}', '{{ letter * kept }}', 'g'){%- endfor %}
        else {{ expression }}
    end
{%- endmacro %}
