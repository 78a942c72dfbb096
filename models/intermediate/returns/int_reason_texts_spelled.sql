{#
    Every distinct reason text of the return lines (normalised, macro normalise_text) in the
    spellings the keyword rules read it in (int_reason_texts_mapped_to_keywords). The text is
    folded (macro fold_text: lower case, accents off, clause marks kept; macro
    expand_contractions: "dont" as "don t") and read in up to four spellings: as written,
    umlauts spelt out (gefaellt as gefallt), and letter runs shortened to two and to one
    (veeel as veel, zuuu as zu). Folded once per distinct text, never per line.
#}
with

return_lines as (

    select * from {{ ref('stg_returns__return_lines') }}

),

return_texts as (

    select distinct reason_text
    from return_lines

),

return_texts_normalised as (

    {# normalised once per distinct text, not per line: the result depends on the text only #}
    select {{ normalise_text('reason_text') }} as reason_text_normalised
    from return_texts

),

distinct_texts as (

    select distinct reason_text_normalised
    from return_texts_normalised
    where reason_text_normalised is not null

),

texts_folded as (

    {# folded once per distinct text, not per line #}
    select
        reason_text_normalised,
        {{ expand_contractions(fold_text('reason_text_normalised')) }}
            as text_folded
    from distinct_texts

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

select * from text_spellings
