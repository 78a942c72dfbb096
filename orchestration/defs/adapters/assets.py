"""Platform adapter assets: one asset group per platform (bol.com, Sendcloud, Shopify,
WooCommerce).

Each asset loads the platform's landing files (`landing/<platform>/`) into the native raw table
through the loader (`returnlens/adapters/`), so lineage reads: adapter asset -> raw table ->
staging. The native ingest asset of that raw table depends on it, so dbt starts only after both.

All adapter assets run in one step (`platform_adapters`, one DuckDB connection): a step of
their own each (12, most of them without a file in a shop that uses one platform or none)
cost ~66 stored Dagster events per run (issue 16). Each asset still gets its own
materialization with its counts (files loaded, unchanged, failed; rows in, loaded,
quarantined), so every platform's result stays visible in the run. Log lines carry the
loader's messages: files, problems, counts, never row content; one line for the step, and one
per table that had files.
"""

import dagster as dg

from returnlens.adapters import ADAPTERS, PLATFORM_TABLES
from returnlens.config import settings
from returnlens.ingest.contracts import Entity
from returnlens.ingest.loader import load_entity
from returnlens.warehouse import connect

STEP = "platform_adapters"


def adapter_key(platform: str, table: str) -> dg.AssetKey:
    """The asset key of a platform adapter's load into raw.<table>."""
    return dg.AssetKey(["adapters", platform, table])


def _adapted() -> dict[dg.AssetKey, tuple[str, Entity]]:
    """Every adapter asset's key -> (platform, the entity it loads), in load order."""
    pairs = [(p, a.entity) for p, a in ADAPTERS.items()]
    pairs += [(p, a.entity) for p, t in PLATFORM_TABLES.items() for a in t.values()]
    return {adapter_key(p, e.name): (p, e) for p, e in pairs}


def _spec(key: dg.AssetKey, platform: str, e: Entity) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=key,
        group_name=f"adapter_{platform}",
        kinds={"duckdb", e.format if e.format in ("json", "csv") else "parquet"},
        description=f"{e.description} Loaded from landing/{platform}/{e.pattern}.",
        metadata={"landing_pattern": f"{platform}/{e.pattern}", "raw_table": e.table},
    )


def _adapters_asset() -> dg.AssetsDefinition:
    adapted = _adapted()

    @dg.multi_asset(
        specs=[_spec(key, p, e) for key, (p, e) in adapted.items()],
        name=STEP,
        can_subset=True,
        pool="warehouse",
        description="The platform adapters' loads into the raw tables, one asset each.",
    )
    def _load(context: dg.AssetExecutionContext):
        cfg = settings()
        selected = [key for key in adapted if key in context.selected_asset_keys]
        results, without_files = [], []
        con = connect(cfg.warehouse)
        try:
            for key in selected:
                platform, e = adapted[key]
                results.append((key, load_entity(con, e, cfg.landing_dir, context.run.run_id)))
        finally:
            con.close()
        for key, res in results:
            platform, e = adapted[key]
            failed = [f for f in res.files if f.status == "failed"]
            for f in failed:
                context.log.error(f.error)
            if not res.files:
                without_files.append(f"{platform} -> {e.table}")
            yield dg.MaterializeResult(
                asset_key=key,
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
                },
            )
        lines = [
            f"{adapted[key][0]} -> {adapted[key][1].table}: {res.count('loaded')} files "
            f"loaded, {res.count('unchanged')} unchanged, {res.count('failed')} failed; "
            f"{res.rows_loaded} rows loaded, {res.rows_quarantined} quarantined"
            for key, res in results
            if res.files
        ]
        context.log.info(
            "\n".join([*lines, f"{len(without_files)} adapter table(s) without files"])
        )

    return _load


@dg.definitions
def defs() -> dg.Definitions:
    """One asset group per platform adapter, one asset per raw table it loads, one step."""
    return dg.Definitions(assets=[_adapters_asset()])
