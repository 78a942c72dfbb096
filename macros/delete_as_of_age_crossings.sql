{#
    Pre-hook of an incremental model (append strategy) holding a flag that says a timestamp is
    older than the data's as-of moment (int_warehouse_as_of.as_of_at) less `max_age_days`,
    e.g. fct_returns.is_stale (requested longer ago than the longest open age): on an
    incremental build, delete its rows whose stored `flag_column` differs from what it is at
    today's as-of moment (`timestamp_column` before as_of_at less max_age_days; false when
    either is null), so that the run appends them again. Both directions: a return going
    stale as the as-of moment moves on, and one open again when it moves back (data removed or
    corrected). Only among the rows `among` selects, a mapping of column to the values the
    flag can change with (fct_returns: a state decided by the request's age, not by a status
    or a closing timestamp); every row when empty. The model's body appends every row it no
    longer holds. Nothing on a first or full-refresh build.
    The as-of moment is read before the DELETE and pasted as a checked timestamp literal (the
    values of `among` as checked words): a plain DELETE without a subquery, as Delta accepts
    it. Sibling of delete_as_of_crossings (a date plus days against the as-of date);
    dispatched, as delete_changed.
#}
{% macro delete_as_of_age_crossings(flag_column, timestamp_column, max_age_days, among={}) -%}
    {{ return(adapter.dispatch('delete_as_of_age_crossings', 'returnlens')(
        flag_column, timestamp_column, max_age_days, among
    )) }}
{%- endmacro %}

{% macro default__delete_as_of_age_crossings(
    flag_column, timestamp_column, max_age_days, among
) -%}
    {%- if is_incremental() and execute -%}
        {%- set as_of_at = as_of_literal('as_of_at') -%}
        {%- if as_of_at is none -%}
            {%- set is_old = 'false' -%}
        {%- else -%}
            {%- set is_old -%}
                coalesce(
                    {{ timestamp_column }}
                    < {{ dbt.dateadd('day', -(max_age_days | int), as_of_at) }},
                    false
                )
            {%- endset -%}
        {%- endif -%}
        delete from {{ this }}
        where {{ flag_column }} <> {{ is_old }}
        {%- for column, values in among.items() %}
            {%- for value in values if not modules.re.fullmatch('[A-Za-z0-9_ ]+', value) -%}
                {{ exceptions.raise_compiler_error(
                    "delete_as_of_age_crossings: among takes plain words as values, not "
                    ~ value
                ) }}
            {%- endfor %}
            and {{ column }} in ('{{ values | join("', '") }}')
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_as_of_age_crossings(
    flag_column, timestamp_column, max_age_days, among
) -%}
    {{- require_delta_for_deletes(flag_column ~ " the as-of moment changed") -}}
    {{- default__delete_as_of_age_crossings(
        flag_column, timestamp_column, max_age_days, among
    ) }}
{%- endmacro %}
