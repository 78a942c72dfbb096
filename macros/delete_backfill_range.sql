{#
    Pre-hook of an incremental model (append strategy): when the vars
    backfill_start and backfill_end (ISO dates, inclusive) are set, delete the model's rows of
    that range of `date_column`, so the run's append builds them again from today's inputs
    (`returnlens run --backfill-start D --backfill-end D`, docs/operations.md). Nothing on a
    first or full-refresh build, or without the vars.
    DELETE is DuckDB's (and Delta's); dispatched, so an engine without it says what to do.
#}
{% macro delete_backfill_range(date_column) -%}
    {{ return(adapter.dispatch('delete_backfill_range', 'returnlens')(date_column)) }}
{%- endmacro %}

{% macro default__delete_backfill_range(date_column) -%}
    {%- set start = var('backfill_start', none) -%}
    {%- set end = var('backfill_end', none) -%}
    {%- if start is not none and end is not none and is_incremental() -%}
        {#- dates only: the values are checked, never pasted into SQL as given -#}
        {%- set first = modules.datetime.date.fromisoformat(start | string) -%}
        {%- set last = modules.datetime.date.fromisoformat(end | string) -%}
        delete from {{ this }}
        where
            cast({{ date_column }} as date) >= cast('{{ first.isoformat() }}' as date)
            and cast({{ date_column }} as date) <= cast('{{ last.isoformat() }}' as date)
    {%- elif (start is none) != (end is none) -%}
        {{ exceptions.raise_compiler_error(
            "A backfill needs both vars backfill_start and backfill_end (ISO dates, inclusive);"
            ~ " got backfill_start=" ~ start ~ ", backfill_end=" ~ end
        ) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_backfill_range(date_column) -%}
    {%- if var('backfill_start', none) is not none and config.get('file_format') != 'delta' -%}
        {{ exceptions.raise_compiler_error(
            "A backfill deletes the range from " ~ this ~ ", which Spark can do on Delta tables"
            ~ " only: set file_format delta, or rebuild the model with --full-refresh"
        ) }}
    {%- else -%}
        {{ default__delete_backfill_range(date_column) }}
    {%- endif -%}
{%- endmacro %}
