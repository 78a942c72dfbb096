{#
    The salt for hashing customer ids, as a SQL string literal. Set RETURNLENS_PII_SALT for
    real data; the default is only for the demo shop.
#}
{% macro pii_salt() -%}
    '{{ env_var("RETURNLENS_PII_SALT", "returnlens-demo-salt") | replace("'", "''") }}'
{%- endmacro %}
