{#
    Pseudonymise a customer id: hex SHA-256 of salt || id. Null stays null. The same id gives
    the same key on DuckDB and Spark, so keys join across engines. The salt is read at run time
    (macro pii_salt), never compiled into the SQL.
#}
{% macro hash_customer_id(column_name) -%}
    {{ return(adapter.dispatch("hash_customer_id", "returnlens")(column_name)) }}
{%- endmacro %}

{% macro default__hash_customer_id(column_name) -%}
    {{ exceptions.raise_compiler_error(
        "hash_customer_id is not implemented for adapter " ~ adapter.type()
    ) }}
{%- endmacro %}

{% macro duckdb__hash_customer_id(column_name) -%}
    sha256({{ pii_salt() }} || {{ column_name }})
{%- endmacro %}

{% macro spark__hash_customer_id(column_name) -%}
    sha2(concat({{ pii_salt() }}, {{ column_name }}), 256)
{%- endmacro %}
