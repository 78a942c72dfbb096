{#
    The salt for hashing customer ids, as a SQL expression read at run time, never a literal:
    the salt must not appear in compiled SQL, target/ or view definitions. On DuckDB the
    returnlens.dbt_salt_plugin (profiles.yml) sets the variable on every dbt connection; a
    query run without it fails loudly instead of hashing with an empty salt.
#}
{% macro pii_salt() -%}
    {{ return(adapter.dispatch("pii_salt", "returnlens")()) }}
{%- endmacro %}

{% macro default__pii_salt() -%}
    {{ exceptions.raise_compiler_error(
        "pii_salt is not implemented for adapter " ~ adapter.type()
    ) }}
{%- endmacro %}

{% macro duckdb__pii_salt() -%}
    coalesce(
        getvariable('returnlens_pii_salt'),
        error('returnlens_pii_salt is not set on this connection: run dbt with the returnlens profile (plugin returnlens.dbt_salt_plugin)')
    )
{%- endmacro %}

{#
    Spark: a session variable set at connection start (`set var returnlens_pii_salt = ...`).
    Persisted views cannot reference session variables, so on Spark the staging models that
    hash customer ids must be materialised as tables (see docs/security.md).
#}
{% macro spark__pii_salt() -%}
    returnlens_pii_salt
{%- endmacro %}
