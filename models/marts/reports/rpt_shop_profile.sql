{#
    The shop profile's settings the readers need, one row: the shop's name, its reporting
    currency (every amount column, named *_eur for historical reasons, is in this currency),
    and its return window. From dbt vars that the run sets from returnlens.yml.
#}
with

final as (

    select
        cast('{{ var("shop_name") | replace("'", "''") }}' as string) as shop_name,
        cast('{{ var("reporting_currency") }}' as string) as reporting_currency,
        cast({{ var("return_window_days") }} as bigint) as return_window_days

)

select * from final
