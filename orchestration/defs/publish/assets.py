"""Publish the marts to the serving database once every gate passed."""

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
    result = publish(cfg.warehouse, cfg.serving, run_id=context.run.run_id)
    demo = " (DEMO DATA: the generated demo shop)" if result.is_demo else ""
    context.log.info(
        f"published {len(result.tables)} marts to {result.serving} as publish "
        f"{result.publish_id}{demo}"
    )
    return dg.MaterializeResult(
        metadata={
            "serving_path": str(result.serving),
            "publish_id": result.publish_id,
            "is_demo": result.is_demo,
            "tables": dg.MetadataValue.json(result.tables),
            "published_at": result.published_at.isoformat(),
            "gates": dg.MetadataValue.json(result.gates),
            "parquet_dir": str(result.parquet_dir) if result.parquet_dir else "not written",
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The publish asset."""
    return dg.Definitions(assets=[published_marts])
