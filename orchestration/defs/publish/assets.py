"""Publish the marts to the serving database once every gate passed.

A run that rebuilds every mart (the main job) publishes them all; a run that rebuilds some
(`returns_alerts`, a subset chosen in the UI) publishes those and keeps the others as they were
published before (`returnlens.publish`, partial publish): a mart the run did not rebuild has
not been gated by it.
"""

from collections import Counter

import dagster as dg

from orchestration.defs.transform.dbt import returnlens_dbt_assets
from returnlens.config import settings
from returnlens.publish import publish


def _mart_keys() -> list[dg.AssetKey]:
    props = returnlens_dbt_assets.specs_by_key
    return [k for k, spec in props.items() if spec.group_name == "marts" or "marts" in k.path]


@dg.asset(
    key=["serving", "published_marts"],
    deps=_mart_keys(),
    group_name="publish",
    kinds={"duckdb"},
    description=(
        "The marts, copied to the serving database (marts only, no PII) and swapped in "
        "atomically. Runs only after dbt's tests and the blocking GX checks passed."
    ),
    pool="warehouse",
)
def published_marts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Write serving.tmp.duckdb, then replace serving.duckdb with it."""
    cfg = settings()
    marts = _mart_keys()
    in_run = context.job_def.asset_layer.selected_asset_keys
    refresh = None
    if not set(marts) <= in_run:
        refresh = [k.path[-1] for k in marts if k in in_run]
        context.log.info(
            f"partial publish: {len(refresh)} of {len(marts)} marts rebuilt by this run "
            f"({', '.join(refresh)}); the others stay as published before"
        )
    result = publish(cfg.warehouse, cfg.serving, run_id=context.run.run_id, refresh=refresh)
    demo = " (DEMO DATA: the generated demo shop)" if result.is_demo else ""
    kinds = Counter(how.split(" ", 1)[0] for how in (result.updates or {}).values())
    context.log.info(
        f"published {len(result.tables)} marts to {result.serving} as publish "
        f"{result.publish_id}{demo}; "
        + ", ".join(f"{n} {how}" for how, n in sorted(kinds.items()))
        + " (copied: into a new file; unchanged: not written; updated: only the rows that "
        "differ; replaced: copied whole)"
    )
    return dg.MaterializeResult(
        metadata={
            "serving_path": str(result.serving),
            "publish_id": result.publish_id,
            "is_demo": result.is_demo,
            "tables": dg.MetadataValue.json(result.tables),
            "refreshed": dg.MetadataValue.json(result.refreshed or []),
            "updates": dg.MetadataValue.json(result.updates or {}),
            "partial": refresh is not None,
            "published_at": result.published_at.isoformat(),
            "gates": dg.MetadataValue.json(result.gates),
            "parquet_dir": str(result.parquet_dir) if result.parquet_dir else "not written",
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The publish asset."""
    return dg.Definitions(assets=[published_marts])
