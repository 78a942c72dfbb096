{#
    The writers' first and last names (lower case) that are also words of the return-reason
    vocabulary (seed reason_keywords), among the rows whose text contains the name: "Groot",
    "Klein" or "Lang" are common Dutch and German surnames and also the words of "te groot",
    "zu klein", "te lang". Masking them would erase the reason itself, so the free-text
    masking leaves these names alone (the other name of the writer is still masked).
    Returns a select of one column `name`; use it as a CTE and left join on the lower-case name.
#}
{% macro customer_names_that_are_reason_words(rows, text_column) -%}
    select distinct names_in_text.name
    from (
        select
            lower(trim(customer_last_name)) as name,
            {{ text_column }} as text_value
        from {{ rows }}
        union all
        select
            lower(trim(customer_first_name)) as name,
            {{ text_column }} as text_value
        from {{ rows }}
    ) as names_in_text
    inner join (
        select distinct concat(' ', replace(keyword, '_', ' '), ' ') as phrase
        from {{ ref('reason_keywords') }}
    ) as vocabulary
        on {{ dbt.position("concat(' ', names_in_text.name, ' ')", "vocabulary.phrase") }} > 0
    where
        names_in_text.name is not null
        and length(names_in_text.name) >= 2
        and instr(lower(names_in_text.text_value), names_in_text.name) > 0
{%- endmacro %}
