{#
    CTEs (to place in a model's `with`, the last one named `text_spellings`): every distinct
    normalised reason text of `distinct_texts` (one column reason_text_normalised, non-null,
    distinct) in the spellings the keyword rules read it in. The text is folded (macro
    fold_text: lower case, accents off, clause marks kept; macro expand_contractions: "dont"
    as "don t") and read in up to four spellings: as written, umlauts spelt out (gefaellt as
    gefallt), and letter runs shortened to two and to one (veeel as veel, zuuu as zu). Folded
    once per distinct text, never per line.

    A macro, not a model (issue 16): as a view over stg_returns__return_lines it made
    int_return_lines_mapped_to_reasons mask every return line twice (once for the lines, once
    for the distinct texts); fed the model's own distinct texts, the masking runs once.
#}
{% macro reason_text_spellings(distinct_texts) -%}
texts_folded as (

    {# folded once per distinct text, not per line #}
    select
        reason_text_normalised,
        {{ expand_contractions(fold_text('reason_text_normalised')) }}
            as text_folded
    from {{ distinct_texts }}

),

text_spellings as (

    {# the text as written, umlauts spelt out (gefaellt, groesser as gefallt, grosser),
       and stretched letters shortened (veeel, tooo, zuuu as veel/vel, too/to, zuu/zu) #}
    select
        reason_text_normalised,
        text_folded as spelling
    from texts_folded
    union
    select
        reason_text_normalised,
        replace(replace(replace(text_folded, 'ae', 'a'), 'oe', 'o'), 'ue', 'u') as spelling
    from texts_folded
    union
    select
        reason_text_normalised,
        {{ collapse_letter_runs('text_folded', 2) }} as spelling
    from texts_folded
    union
    select
        reason_text_normalised,
        {{ collapse_letter_runs('text_folded', 1) }} as spelling
    from texts_folded

)
{%- endmacro %}
