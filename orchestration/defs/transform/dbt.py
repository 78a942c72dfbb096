"""The dbt project as Dagster assets.

dbt's data tests run inside the same `dbt build` and gate it as before (a failing test fails the
step, names the test, and nothing downstream runs or is published), but they are not Dagster
asset checks: with ~750 tests, one planned and one evaluation event each made Dagster's event
storage the largest fixed cost of a run (measured at the e2e scale: 1,639 events and 77 s for
the dbt step vs 155 events and 62 s). The step logs one line with the tests' outcome, and
target/run_results.json has every test. The GX suites remain blocking asset checks.
"""

import importlib.metadata
import json
import os
import sys
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY
from packaging import version

from returnlens.config import PROJECT_ROOT, settings
from returnlens.dbt_retry import merge_run_results, retry_after_out_of_memory
from returnlens.dbt_runner import DbtBuildFailed, build_outcomes, dbt_executable, ensure_manifest
from returnlens.incremental import plan_build, record_built
from returnlens.profile import dbt_vars_json, load_profile
from returnlens.warehouse import dbt_disk_full, dbt_out_of_memory, dbt_threads, within_budget

dbt_project = DbtProject(
    project_dir=PROJECT_ROOT,
    profiles_dir=PROJECT_ROOT,
    # the same target folder `returnlens.dbt_runner.parse` writes (DBT_TARGET_PATH honoured)
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)
# Like DbtProject.prepare_if_dev(), but with the venv's dbt (which need not be on PATH) and
# always: parses only when the manifest is missing or its inputs changed (a model pulled since).
ensure_manifest(dbt_project.manifest_path)


class ReturnlensDbtCli(DbtCliResource):
    """The dbt CLI resource, without the `dbt --version` subprocess dagster-dbt starts once per
    run to learn the version: it imports dbt and asks PyPI for the latest release (3 s of CPU
    and a network wait here). The venv's dbt is the dbt-core installed beside this code. And
    without the in-process dbt adapter (see `_initialize_dbt_core_adapter`)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        """No dbt adapter in the Dagster process: dagster-dbt builds one on every `cli()` call
        (loads the profile and project, registers the DuckDB adapter, renders dbt's built-in
        macros: 1.7 s of CPU and 5.5 s of wall time per run on the loaded machine, issue 16)
        only for `fetch_row_counts()` and `fetch_column_metadata()`, which the step does not
        use. The dbt subprocess does all the work; dagster-dbt accepts no adapter."""
        return None


class LayerTranslator(DagsterDbtTranslator):
    """Group dbt assets by layer (staging, intermediate, marts, seeds) in the Dagster UI."""

    def get_group_name(self, dbt_resource_props):
        """The first folder under models/ (or `seeds`)."""
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


class DbtBuildConfig(dg.Config):
    """How a run builds the incremental models (returnlens.incremental; docs/operations.md):
    normally incremental; `full_refresh` rebuilds them from scratch; `backfill_start` and
    `backfill_end` (ISO dates, inclusive) rebuild the rows of the orders of that range."""

    full_refresh: bool = False
    backfill_start: str | None = None
    backfill_end: str | None = None


def _selected_unique_ids(context: dg.AssetExecutionContext) -> set[str] | None:
    """The dbt unique ids of the assets this step materialises when it is a subset (chosen in
    the Dagster UI), None when it builds them all."""
    assets_def = context.assets_def  # within a subset, the subset's own definition
    if assets_def.keys_by_output_name == assets_def.node_keys_by_output_name:
        return None
    return {
        assets_def.get_asset_spec(key).metadata[DAGSTER_DBT_UNIQUE_ID_METADATA_KEY]
        for key in context.selected_asset_keys
    }


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=LayerTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=False)
    ),
    pool="warehouse",
)
def returnlens_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
):
    """Build seeds, models and data tests in one dbt invocation, with the shop profile's
    settings (reporting currency, return window, value sets) as dbt vars.

    dbt's unit tests are left out: they check the models' logic on hand-made rows, not the
    shop's data, so they run once per change in `make test` (tests/integration/test_dbt_lint.py,
    test_dbt_unit_tests_pass_on_the_empty_lint_warehouse), not on every run (34 of them cost
    13 s of every run, issue 16).

    Incremental models are built incrementally unless the run config asks for a full refresh,
    their definition changed since they were built, or what they declare they are built from
    changed (a re-delivered file, an erasure, a changed product; `returnlens.incremental`).

    A subset of the models (the `returns_alerts` job, a selection in the UI) leaves the others
    as they are and runs the tests whose every model it builds (below)."""
    cfg = settings()
    profile = load_profile(cfg.landing_dir)
    vars_json = dbt_vars_json(profile)
    selected = _selected_unique_ids(context)
    with within_budget("The dbt step's plan of the incremental models"):
        plan = plan_build(
            dbt_project.manifest_path,
            cfg.warehouse,
            vars_json,
            full_refresh=config.full_refresh,
            backfill_start=config.backfill_start,
            backfill_end=config.backfill_end,
            selected=selected,
        )
    # A subset (the returns_alerts job) runs the tests of the models it builds; a test that
    # also reads a model it does not build (a relationship to a dimension, another mart's
    # relationship to a built fact) is left to the next run that builds both: dbt's cautious
    # indirect selection. At 10M order lines those tests took 30 s of the alert job's 5 minutes.
    subset_args = ["--indirect-selection", "cautious"] if selected is not None else []
    for reason in plan.reasons:
        context.log.info(f"incremental models: {reason}")
    if plan.vars:
        vars_json = json.dumps({**json.loads(vars_json), **plan.vars})
    threads, why = dbt_threads(cfg, cfg.warehouse)
    context.log.info(f"dbt threads: {why}")

    def build(*more_args: str):
        return dbt.cli(
            [
                "build",
                "--exclude-resource-type",
                "unit_test",
                # dbt's file log (dbt.log beside run_results.json) at info, not debug: the debug
                # lines (every SQL statement, every adapter call) cost ~13 % of dbt's CPU per
                # run (issue 16); info keeps each node's start and result, errors and warnings.
                # DBT_LOG_LEVEL_FILE=debug brings the SQL back for a run that needs it.
                "--log-level-file",
                os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
                # and in dbt's own text format: dagster-dbt sets DBT_LOG_FORMAT=json for the
                # stdout it reads, which made dbt serialise every event to JSON a second time
                # for the file (issue 16). DBT_LOG_FORMAT_FILE=json brings JSON lines back.
                "--log-format-file",
                os.environ.get("DBT_LOG_FORMAT_FILE", "debug"),
                "--vars",
                vars_json,
                "--threads",
                str(threads),
                *subset_args,
                *plan.args,
                *more_args,
            ],
            context=context,
            raise_on_error=False,
        )

    invocation = build()
    yield from _materializations(invocation)
    run_results = invocation.target_path / "run_results.json"
    # the whole project only: a retry leaves out what finished by name, and a subset's tests are
    # selected only through its models (excluding a finished model would drop its tests)
    retry = (
        retry_after_out_of_memory(run_results)
        if selected is None and not invocation.is_successful()
        else None
    )
    if retry is not None:
        context.log.warning(
            f"dbt ran out of DuckDB memory in {', '.join(retry.out_of_memory)}: building the "
            f"{retry.unfinished} node(s) that did not finish once more, in a fresh dbt process "
            "(a fresh DuckDB database; returnlens.dbt_retry, docs/operations.md)"
        )
        first_results = run_results
        # every node is selected by name (fqn:*), so the tests of a finished model that did not
        # finish stay in: no indirect selection, which would drop them with their model
        invocation = build("--exclude", " ".join(retry.finished), "--indirect-selection", "empty")
        yield from _materializations(invocation)
        run_results = merge_run_results(first_results, invocation.target_path / "run_results.json")
    with within_budget("The dbt step's record of what it built"):
        record_built(cfg.warehouse, plan, run_results, dbt_project.manifest_path)
        counts, failed = build_outcomes(run_results, cfg.warehouse)
    context.log.info(
        "dbt tests: "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none")
    )
    if not invocation.is_successful():
        out_of_memory = dbt_out_of_memory(run_results)
        if out_of_memory is not None:
            raise out_of_memory
        disk_full = dbt_disk_full(run_results)
        if disk_full is not None:
            raise DbtBuildFailed(f"{disk_full} Every result is in {run_results}.")
        raise DbtBuildFailed(
            "dbt build failed: "
            + ("; ".join(failed[:20]) if failed else "see the dbt log above")
            + (f"; and {len(failed) - 20} more" if len(failed) > 20 else "")
            + f". Every result is in {run_results}; nothing downstream ran or was published."
        )


def _materializations(invocation):
    """The events of a dbt invocation the step yields: models and seeds materialise; the
    tests' observations are summed up after the build instead."""
    for event in invocation.stream():
        if isinstance(event, dg.Output | dg.AssetMaterialization):
            yield event


@dg.definitions
def defs() -> dg.Definitions:
    """The dbt assets and the dbt CLI resource."""
    return dg.Definitions(
        assets=[returnlens_dbt_assets],
        resources={
            "dbt": ReturnlensDbtCli(project_dir=dbt_project, dbt_executable=dbt_executable())
        },
    )
