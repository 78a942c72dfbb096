{#
    The salt for hashing customer ids, as a SQL expression read at run time, never a literal:
    the salt must not appear in compiled SQL, target/ or view definitions. On DuckDB the
    returnlens.dbt_salt_plugin (profiles.yml) sets the variable on every dbt connection; a
    query run without it fails loudly instead of hashing with an empty salt.

    DuckDB: a `case`, cast to varchar, not `coalesce(getvariable(...), error(...))`: DuckDB
    folded `coalesce(null, error(...)) || id` to null (null keys, no error) and, with the salt
    set, evaluated the coalesce on every row (the hash cost 6x more; tests/unit/
    test_customer_hash_sql.py). The case folds to the salt's value once per query.
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
    cast(
        case
            when getvariable('returnlens_pii_salt') is null
                then error('returnlens_pii_salt is not set on this connection: run dbt with the returnlens profile (plugin returnlens.dbt_salt_plugin)')
            else getvariable('returnlens_pii_salt')
        end as varchar
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
