{#
    The loader's audit, published: which landing files were loaded, with how many rows loaded
    and quarantined, which files failed and why, and every other file under the landing folder
    (unrecognised, ignored, refused, with what to do). One row per file per load; the latest
    load of each file is flagged. The raw audit is bookkeeping, not a shop export, so this
    report reads its source directly (there is no staging model to share). File paths are the
    path under the landing folder (older audits held absolute paths: reduced here as well); the
    loader's messages name files, problems, line numbers and column names, never row content.
#}
with

load_audit as (

    select * from {{ source('loader', 'load_audit') }}

),

audited as (

    select
        load_id,
        entity,
        source as landing_source,
        source_file,
        regexp_replace(source_file, '^.*/landing/', '') as landing_path,
        size_bytes,
        rows_in,
        rows_loaded,
        rows_quarantined,
        started_at,
        finished_at,
        status,
        error,
        extra_columns,
        row_number() over (
            partition by entity, source_file
            order by finished_at desc nulls last, started_at desc, status asc
        ) as recency_rank
    from load_audit

),

final as (

    select
        cast(load_id as string) as load_id,
        cast(entity as string) as entity,
        cast(landing_source as string) as landing_source,
        cast(landing_path as string) as landing_path,
        cast(status as string) as status,
        cast(coalesce(size_bytes, 0) as bigint) as size_bytes,
        cast(rows_in as bigint) as rows_in,
        cast(coalesce(rows_loaded, 0) as bigint) as rows_loaded,
        cast(coalesce(rows_quarantined, 0) as bigint) as rows_quarantined,
        cast(
            case when status = 'failed' then rows_in else 0 end as bigint
        ) as rows_in_failed_file,
        cast(status = 'failed' as boolean) as is_file_quarantined,
        cast(
            status in ('loaded', 'replayed', 'failed') and rows_in is not null as boolean
        ) as is_rows_in_known,
        cast(entity is not null as boolean) as is_delivery,
        cast(recency_rank = 1 as boolean) as is_latest_load_of_file,
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at,
        cast(
            left(regexp_replace(error, '[^ ]*/landing/', '', 'g'), 500) as string
        ) as error,
        cast(extra_columns as string) as extra_columns
    from audited

)

select * from final
