"""Exports of the signal marts (supplier quality alerts, the review queue), after publishing."""

import dagster as dg

from returnlens.exports import write_exports


@dg.asset(
    key=["exports", "signal_exports"],
    deps=[dg.AssetKey(["serving", "published_marts"])],
    group_name="publish",
    kinds={"csv", "json"},
    description=(
        "Per-supplier quality alert files (exports/quality_alerts/<slug>-<hash>.csv/.json, "
        "looked up by supplier id in exports/quality_alerts/index.csv) for purchasing to send, "
        "and the review queue (exports/review_queue.csv) for the warehouse team; read from the "
        "serving database, so they only change after a publish whose gates passed. No customer "
        "data. A failure here leaves the publish in place: `returnlens export` writes them again."
    ),
)
def signal_exports(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Write the export files from the freshly published serving database."""
    result = write_exports()
    context.log.info(
        f"exported alerts for {len(result.alert_files)} supplier(s) (index {result.index}) and "
        f"{result.review_queue_rows} review-queue lines to {result.export_dir}"
    )
    return dg.MaterializeResult(
        metadata={
            "export_dir": str(result.export_dir),
            "index": str(result.index),
            "suppliers": len(result.alert_files),
            "alerts": sum(result.alert_files.values()),
            "removed_files": dg.MetadataValue.json(result.removed_files),
            "review_queue_rows": result.review_queue_rows,
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The exports asset."""
    return dg.Definitions(assets=[signal_exports])
