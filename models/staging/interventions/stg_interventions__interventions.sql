with

source as (

    select * from {{ source('interventions', 'interventions') }}

),

renamed as (

    select

        ---------- ids
        intervention_id,

        ---------- strings
        scope_type,
        nullif(trim(scope_value), '') as scope_value,
        kind,
        description,
        nullif(lower(trim(target_reason)), '') as target_reason,

        ---------- dates
        start_date

    from source

)

select * from renamed
