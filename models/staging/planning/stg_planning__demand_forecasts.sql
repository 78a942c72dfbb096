with

source as (

    select * from {{ source('planning', 'demand_forecasts') }}

),

renamed as (

    select

        ---------- ids
        sku,
        forecast_version,

        ---------- numerics
        gross_demand_units,

        ---------- dates
        week_start_date,
        created_date

    from source

)

select * from renamed
