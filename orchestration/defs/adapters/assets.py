"""Platform adapter assets: one asset group per platform (bol.com, Sendcloud, Shopify,
WooCommerce).

Each asset loads the platform's landing files (`landing/<platform>/`) into the native raw table
through the loader (`returnlens/adapters/`), so lineage reads: adapter asset -> raw table ->
staging. The native ingest asset of that raw table depends on it, so dbt starts only after both.
Log lines carry the loader's messages: files, problems, counts, never row content.
"""

import dagster as dg

from returnlens.adapters import ADAPTERS, PLATFORM_TABLES
from returnlens.config import settings
from returnlens.ingest.contracts import Entity
from returnlens.ingest.loader import load_entity
from returnlens.warehouse import connect


def adapter_key(platform: str, table: str) -> dg.AssetKey:
    """The asset key of a platform adapter's load into raw.<table>."""
    return dg.AssetKey(["adapters", platform, table])


def _adapter_asset(platform: str, e: Entity | None = None) -> dg.AssetsDefinition:
    e = e or ADAPTERS[platform].entity

    @dg.asset(
        key=adapter_key(platform, e.name),
        group_name=f"adapter_{platform}",
        kinds={"duckdb", e.format if e.format in ("json", "csv") else "parquet"},
        pool="warehouse",
        description=f"{e.description} Loaded from landing/{platform}/{e.pattern}.",
        metadata={"landing_pattern": f"{platform}/{e.pattern}", "raw_table": e.table},
    )
    def _load(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        cfg = settings()
        con = connect(cfg.warehouse)
        try:
            res = load_entity(con, e, cfg.landing_dir, load_id=context.run.run_id)
        finally:
            con.close()
        failed = [f for f in res.files if f.status == "failed"]
        for f in failed:
            context.log.error(f.error)
        context.log.info(
            f"{platform} -> {e.table}: {res.count('loaded')} files loaded, "
            f"{res.count('unchanged')} unchanged, {len(failed)} failed; "
            f"{res.rows_loaded} rows loaded, {res.rows_quarantined} quarantined"
        )
        return dg.MaterializeResult(
            metadata={
                "rows_in": res.rows_in,
                "rows_loaded": res.rows_loaded,
                "rows_quarantined": res.rows_quarantined,
                "files_loaded": res.count("loaded"),
                "files_unchanged": res.count("unchanged"),
                "files_failed": len(failed),
                "failed_files": dg.MetadataValue.md(
                    "\n".join(f"- {f.error}" for f in failed) or "none"
                ),
            }
        )

    return _load


@dg.definitions
def defs() -> dg.Definitions:
    """One asset group per platform adapter, one asset per raw table it loads."""
    tables = [_adapter_asset(p, a.entity) for p, t in PLATFORM_TABLES.items() for a in t.values()]
    return dg.Definitions(assets=[*(_adapter_asset(p) for p in ADAPTERS), *tables])
