{#
    MetricFlow's time spine: one row per day from 2020-01-01 to 2035-12-31, built from
    the date_series macro (DuckDB range(), Spark sequence()), no package needed.
#}
with

days as (

    select
        {{ date_series("cast('2020-01-01' as date)", "cast('2035-12-31' as date)") }}
            as date_day

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
