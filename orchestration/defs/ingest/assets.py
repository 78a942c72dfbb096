"""Ingest assets: one multi-asset per landing source, one asset key per raw table."""

import dagster as dg

from returnlens.config import settings
from returnlens.ingest.contracts import SOURCES, entities_of
from returnlens.ingest.loader import load_entity
from returnlens.warehouse import connect


def _ingest_asset(source: str) -> dg.AssetsDefinition:
    entities = entities_of(source)

    @dg.multi_asset(
        name=f"ingest_{source}",
        specs=[
            dg.AssetSpec(
                key=["raw", e.name],
                description=f"{e.description} Loaded from landing/{source}/{e.pattern}.",
                group_name="ingest",
                kinds={"duckdb"},
                metadata={
                    "landing_pattern": ", ".join(f"{source}/{f.pattern}" for f in e.file_specs),
                    "format": ", ".join(f.format for f in e.file_specs),
                    "encoding": e.encoding,
                },
            )
            for e in entities
        ],
        pool="warehouse",
    )
    def _ingest(context: dg.AssetExecutionContext):
        cfg = settings()
        con = connect(cfg.warehouse)
        try:
            for e in entities:
                res = load_entity(con, e, cfg.landing_dir, load_id=context.run.run_id)
                failed = [f for f in res.files if f.status == "failed"]
                for f in failed:
                    context.log.error(f.error)
                context.log.info(
                    f"raw.{e.name}: {res.count('loaded')} files loaded, "
                    f"{res.count('unchanged')} unchanged, {len(failed)} failed; "
                    f"{res.rows_loaded} rows loaded, {res.rows_quarantined} quarantined"
                )
                yield dg.MaterializeResult(
                    asset_key=["raw", e.name],
                    metadata={
                        "rows_in": res.rows_in,
                        "rows_loaded": res.rows_loaded,
                        "rows_quarantined": res.rows_quarantined,
                        "files_loaded": res.count("loaded"),
                        "files_unchanged": res.count("unchanged"),
                        "files_failed": len(failed),
                        "table_rows": dg.MetadataValue.int(res.table_rows),
                        "extra_columns": ", ".join(
                            sorted({c for f in res.files for c in f.extra_columns})
                        )
                        or "none",
                        "failed_files": dg.MetadataValue.md(
                            "\n".join(f"- {f.error}" for f in failed) or "none"
                        ),
                    },
                )
        finally:
            con.close()

    return _ingest


@dg.definitions
def defs() -> dg.Definitions:
    """One ingest asset per landing source."""
    return dg.Definitions(assets=[_ingest_asset(s) for s in SOURCES])
