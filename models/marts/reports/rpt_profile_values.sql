{#
    Every value the shop delivered for a value set of the shop profile (returnlens.yml
    `values`: category, country, channel, currency), with how many rows carry it and whether
    the profile lists it. Values of an open set that the profile does not list are loaded and
    kept; this report is where they show up (is_listed false), so the profile can be extended
    or a closed set chosen. Closed sets cannot have unlisted values here: the loader
    quarantines them (raw.quarantine_rows says why).
#}
{%- set value_sets = var('profile_value_sets') -%}
{%- set listed = [] -%}
{%- for value_set, spec in value_sets.items() -%}
    {%- for value in spec['values'] -%}
        {%- do listed.append((value_set, value)) -%}
    {%- endfor -%}
{%- endfor -%}
{%- set columns = [
    ('category', 'products', 'category', ref('stg_shop__products')),
    ('country', 'customers', 'country_code', ref('stg_shop__customers')),
    ('country', 'orders', 'shipping_country_code', ref('stg_shop__orders')),
    ('channel', 'orders', 'channel', ref('stg_shop__orders')),
    ('currency', 'orders', 'currency_code', ref('stg_shop__orders')),
] -%}
with

delivered_values as (
    {% for value_set, entity, column_name, relation in columns %}
        select
            '{{ value_set }}' as value_set,
            '{{ entity }}' as entity,
            '{{ column_name }}' as column_name,
            {{ column_name }} as delivered_value,
            count(*) as row_count
        from {{ relation }}
        where {{ column_name }} is not null
        group by {{ column_name }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

listed_values as (
    {% for value_set, value in listed %}
        select
            '{{ value_set }}' as value_set,
            '{{ value | replace("'", "''") }}' as listed_value
        union all
    {% endfor %}
    select
        cast(null as string) as value_set,
        cast(null as string) as listed_value
    where 1 = 0
),

final as (

    select
        cast(delivered_values.value_set as string) as value_set,
        cast(delivered_values.entity as string) as entity,
        cast(delivered_values.column_name as string) as column_name,
        cast(delivered_values.delivered_value as string) as delivered_value,
        cast(delivered_values.row_count as bigint) as row_count,
        cast(
            case delivered_values.value_set
                {% for value_set, spec in value_sets.items() %}
                    when '{{ value_set }}' then '{{ spec["kind"] }}'
                {% endfor %}
            end as string
        ) as value_set_kind,
        listed_values.listed_value is not null as is_listed
    from delivered_values
    left join listed_values
        on
            delivered_values.value_set = listed_values.value_set
            and delivered_values.delivered_value = listed_values.listed_value

)

select * from final
