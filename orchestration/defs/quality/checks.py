"""Great Expectations suites as blocking Dagster asset checks.

Suites on raw tables run in one step after ingest (and block dbt); suites on marts run in one
step after dbt (and block publishing). One step per layer shares one GX context and one DuckDB
connection; each suite is still its own asset check with its own result and metadata.

A job that materialises some of the assets (`returns_alerts`, a subset chosen in the UI) runs
the suites on those assets only: a suite on a mart the run does not rebuild is not evaluated
(it would judge the mart as the last run left it, and its result is not this run's).
"""

from pathlib import Path

import dagster as dg

from orchestration.defs.transform.dbt import returnlens_dbt_assets
from returnlens.config import settings
from returnlens.quality.gates import data_docs_index, load_suite_file, suite_paths
from returnlens.quality.history import run_gates


def _asset_key_for(relation: str) -> dg.AssetKey:
    schema, table = relation.split(".", 1)
    if schema == "raw":
        return dg.AssetKey(["raw", table])
    for key in returnlens_dbt_assets.keys:
        if key.path[-1] == table:
            return key
    raise ValueError(f"no asset materializes {relation}; check meta.relation of its suite")


def _gate_step(layer: str, paths: list[Path]) -> dg.AssetChecksDefinition:
    specs = {p: load_suite_file(p) for p in paths}
    check_specs = [
        dg.AssetCheckSpec(
            name=f"gx_{spec['name']}",
            asset=_asset_key_for(spec["meta"]["relation"]),
            description=spec["meta"].get("description", f"Great Expectations suite {p.name}"),
            blocking=True,
        )
        for p, spec in specs.items()
    ]

    @dg.multi_asset_check(
        specs=check_specs,
        name=f"gx_gates_{layer}",
        description=f"Great Expectations suites on the {layer} layer (expectations/*.json).",
        pool="warehouse",
        can_subset=True,
    )
    def _gates(context: dg.AssetCheckExecutionContext):
        cfg = settings()
        docs_dir = cfg.data_dir / "data_docs" / layer
        selected = context.selected_asset_check_keys
        chosen = {
            p: spec
            for p, spec in specs.items()
            if dg.AssetCheckKey(_asset_key_for(spec["meta"]["relation"]), f"gx_{spec['name']}")
            in selected
        }
        outcomes = run_gates(list(chosen), cfg.warehouse, context.run.run_id, docs_dir=docs_dir)
        # one log line for the step, plus the summary of each suite that did not simply pass
        # (each log line is an event Dagster stores; every result is in the checks' metadata)
        noteworthy = [r for r, _, _ in outcomes if r.failures or r.warnings or r.skipped]
        context.log.info(
            f"{len(outcomes)} suites, {sum(len(r.outcomes) for r, _, _ in outcomes)} "
            f"expectations on the {layer} layer, {len(outcomes) - len(noteworthy)} passed cleanly"
            + "".join(f"\n{r.summary()}" for r in noteworthy)
        )
        for (result, rows, parameters), spec in zip(outcomes, chosen.values(), strict=True):
            lines = result.summary().splitlines()
            yield dg.AssetCheckResult(
                asset_key=_asset_key_for(spec["meta"]["relation"]),
                check_name=f"gx_{spec['name']}",
                passed=result.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=lines[0],
                metadata={
                    "suite": spec["name"],
                    "relation": result.relation,
                    "expectations": len(result.outcomes),
                    "failed": len(result.failures),
                    "warnings": len(result.warnings),
                    "row_count": rows,
                    "previous_row_count": parameters.get("previous_row_count"),
                    "details": dg.MetadataValue.md(
                        "\n".join(f"- {line}" for line in lines[1:]) or "all passed"
                    ),
                    "data_docs": dg.MetadataValue.path(str(data_docs_index(docs_dir))),
                },
            )

    return _gates


@dg.definitions
def defs() -> dg.Definitions:
    """One blocking gate step per layer, one asset check per suite in expectations/."""
    paths = suite_paths()
    raw = [p for p in paths if load_suite_file(p)["meta"]["relation"].startswith("raw.")]
    marts = [p for p in paths if p not in raw]
    return dg.Definitions(asset_checks=[_gate_step("raw", raw), _gate_step("marts", marts)])
