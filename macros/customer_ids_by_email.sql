{#
    The customers that orders keyed by e-mail resolve to: per salted e-mail pseudonym
    (email_customer_id: 'email-' + 20 hex digits, as the adapter of Shopify's admin "Export
    orders" CSV keys an order, which names no customer id), the id of the customer export's
    one customer with that e-mail. An e-mail two customers share resolves to neither. A query
    for a CTE body; join an order's delivered customer_id to email_customer_id and take
    coalesce(customer_id, the delivered id). Its unhashed ids stay in the model that uses it
    (staging exposes only the hashed customer_key).

    "One customer" is min = max of the non-null ids (what count(distinct customer_id) = 1
    says): DuckDB plans a distinct count as a second grouping of the same projection, so
    every e-mail was hashed twice (1.3 s of CPU per scan of stg_returns__return_lines at 10M
    order lines, which reads it).
#}
{% macro customer_ids_by_email(customers_relation) -%}
    select
        {{ email_customer_id('email') }} as email_customer_id,
        min(customer_id) as customer_id
    from {{ customers_relation }}
    where email is not null
    group by {{ email_customer_id('email') }}
    having min(customer_id) = max(customer_id)
{%- endmacro %}

{#
    The customer id an order of this e-mail gets from the admin export's adapter
    (returnlens.adapters.shopify_export.customer_key_sql): 'email-' and the first 20 hex
    digits of the salted hash of the lower-cased, trimmed e-mail.
#}
{% macro email_customer_id(column_name) -%}
    {{ dbt.concat(["'email-'", "substr(" ~ hash_customer_id("lower(trim(" ~ column_name ~ "))") ~ ", 1, 20)"]) }}
{%- endmacro %}
