"""Ingest assets: one multi-asset per landing source, one asset key per raw table, and the
landing inventory (`raw/load_audit`), which accounts for every other file under the landing
folder after the sources are loaded.

Log lines and metadata carry the loader's messages, which name files, problems, line numbers and
column names, never row content.
"""

import dagster as dg

from orchestration.defs.adapters.assets import adapter_key
from returnlens.adapters import adapter_entities
from returnlens.config import settings
from returnlens.ingest.contracts import ENTITIES, SOURCES, entities_of
from returnlens.ingest.loader import account_landing, load_entity
from returnlens.ingest.privacy import erase_forgotten_free_text
from returnlens.ingest.raw_tables import UNLOADED_STATUSES
from returnlens.profile import landing_entities
from returnlens.warehouse import connect


def _ingest_asset(source: str) -> dg.AssetsDefinition:
    entities = entities_of(source)

    @dg.multi_asset(
        name=f"ingest_{source}",
        specs=[
            dg.AssetSpec(
                key=["raw", e.name],
                # platform adapters load into the same table first (orchestration/defs/adapters)
                deps=[
                    adapter_key(a.source, a.name) for a in adapter_entities() if a.name == e.name
                ],
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
        # the contracts as the shop profile shapes them (value sets, sources, dialects)
        shaped = {e.name: e for e in landing_entities(cfg.landing_dir)}
        con = connect(cfg.warehouse)
        try:
            for e in entities:
                res = load_entity(con, shaped[e.name], cfg.landing_dir, load_id=context.run.run_id)
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
                        "rows_in_unknown_files": sum(1 for f in failed if f.rows_in is None),
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


@dg.asset(
    key=["raw", "load_audit"],
    deps=[
        *(dg.AssetKey(["raw", e.name]) for e in ENTITIES),
        *(adapter_key(a.source, a.name) for a in adapter_entities()),
    ],
    group_name="ingest",
    kinds={"duckdb"},
    pool="warehouse",
    description=(
        "The loader's audit (one row per landing file per load). After the sources are loaded, "
        "every other file under the landing folder is accounted for here: unrecognised (no "
        "delivery pattern matches; the patterns and what to do are named), ignored (hidden "
        "files, the demo's ground_truth.json, the shop profile returnlens.yml) or refused "
        "(symbolic links)."
    ),
)
def landing_inventory(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Audit every landing file that is no entity's delivery, and log each one."""
    cfg = settings()
    con = connect(cfg.warehouse)
    try:
        files = account_landing(
            con,
            cfg.landing_dir,
            load_id=context.run.run_id,
            entities=(*landing_entities(cfg.landing_dir), *adapter_entities()),
        )
        # every source is loaded now: forgotten customers' free text, whatever the load order
        erased = erase_forgotten_free_text(con)
    finally:
        con.close()
    if erased:
        context.log.info(f"erased the free text of forgotten customers in {erased} raw row(s)")
    for f in files:
        if f.status == "unrecognised" or f.status == "refused":
            context.log.warning(f"{f.status.upper()}: {f.error}")
        else:
            context.log.info(f"{f.status.upper()}: {f.error}")
    counts = {s: sum(1 for f in files if f.status == s) for s in UNLOADED_STATUSES}
    context.log.info(
        "landing files not loaded: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + (" (see Data health)" if files else "")
    )
    return dg.MaterializeResult(
        metadata={
            **{f"files_{s}": n for s, n in counts.items()},
            "files_not_loaded": dg.MetadataValue.md(
                "\n".join(f"- **{f.status}** {f.error}" for f in files) or "none"
            ),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """One ingest asset per landing source, and the landing inventory."""
    return dg.Definitions(assets=[*(_ingest_asset(s) for s in SOURCES), landing_inventory])
