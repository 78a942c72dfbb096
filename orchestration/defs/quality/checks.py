"""Great Expectations suites as blocking Dagster asset checks."""

from pathlib import Path

import dagster as dg

from orchestration.defs.transform.dbt import returnlens_dbt_assets
from returnlens.config import settings
from returnlens.quality.gates import data_docs_index, load_suite_file, suite_paths
from returnlens.quality.history import run_gate


def _asset_key_for(relation: str) -> dg.AssetKey:
    schema, table = relation.split(".", 1)
    if schema == "raw":
        return dg.AssetKey(["raw", table])
    for key in returnlens_dbt_assets.keys:
        if key.path[-1] == table:
            return key
    raise ValueError(f"no asset materializes {relation}; check meta.relation of its suite")


def _gx_check(path: Path) -> dg.AssetChecksDefinition:
    spec = load_suite_file(path)
    relation = spec["meta"]["relation"]

    @dg.asset_check(
        asset=_asset_key_for(relation),
        name=f"gx_{spec['name']}",
        description=spec["meta"].get("description", f"Great Expectations suite {path.name}"),
        blocking=True,
        pool="warehouse",
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        result, rows, parameters = run_gate(path, settings().warehouse, context.run.run_id)
        context.log.info(result.summary())
        return dg.AssetCheckResult(
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=result.summary().splitlines()[0],
            metadata={
                "suite": spec["name"],
                "relation": relation,
                "expectations": len(result.outcomes),
                "failed": len(result.failures),
                "warnings": len(result.warnings),
                "row_count": rows,
                "previous_row_count": parameters.get("previous_row_count"),
                "data_docs": dg.MetadataValue.path(str(data_docs_index())),
                "details": dg.MetadataValue.md(
                    "\n".join(f"- {line}" for line in result.summary().splitlines()[1:])
                    or "all passed"
                ),
            },
        )

    return _check


@dg.definitions
def defs() -> dg.Definitions:
    """One blocking check per suite in expectations/."""
    return dg.Definitions(asset_checks=[_gx_check(p) for p in suite_paths()])
