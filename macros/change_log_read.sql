{#
    What a relation reads of the change log in this run, as returnlens.incremental.plan_build
    wrote it to returnlens_state.change_log_reads before the build (returnlens/change_log.py):
    a dict with change_seq (the log: this run's seq; a reader: the last seq it read) and
    changed_after (the log: the latest stamp it saw at its last build, or none), or none when
    nothing is written for it (dbt run by hand, a warehouse the pipeline never planned) and at
    parse time. Read at run time, not passed as dbt vars: a var that changes at every run makes
    dbt parse the whole project again.
#}
{% macro change_log_read(relation_key) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set reads = adapter.get_relation(
        database=target.database, schema='returnlens_state', identifier='change_log_reads'
    ) -%}
    {%- if reads is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        "select change_seq, changed_after from " ~ reads
        ~ " where relation = '" ~ (relation_key | replace("'", "''")) ~ "'"
    ) -%}
    {%- if found.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'change_seq': found.rows[0][0], 'changed_after': found.rows[0][1]}) }}
{%- endmacro %}

{#
    True when the pipeline recorded a seq this model read of the change log for this run
    (change_log_read of `this`); false for a build by hand without one, and at parse time.
#}
{% macro change_log_read_recorded() -%}
    {%- set read = change_log_read(this.schema ~ '.' ~ this.identifier) -%}
    {{ return(read is not none and read.change_seq is not none) }}
{%- endmacro %}
