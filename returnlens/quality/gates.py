"""Run the Great Expectations suites of `expectations/` on the warehouse, by SQL pushdown.

A suite file is GX 1.x suite JSON (`name`, `expectations` with `type`, `kwargs`, `severity`)
plus `meta.relation`, the table it validates. Expectations run as aggregate SQL inside DuckDB
through GX's SQL datasource; nothing is pulled into pandas. A `critical` expectation that fails,
or that GX could not evaluate at all (`exception_info`), fails the gate; a `warning` is reported
but does not block.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from returnlens.config import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# the pseudo-expectation a raw gate fails with when a required source has no file at all
SOURCE_DELIVERED = "required_source_delivered"


@dataclass
class ExpectationOutcome:
    """One expectation's result in words a person can read."""

    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    examples: list[Any] = field(default_factory=list)
    error: str | None = None
    setting: str | None = None  # the shop-profile key(s) that set this expectation's threshold

    def describe(self) -> str:
        """One line: what failed, how badly, with examples."""
        where = f"{self.column}: " if self.column else ""
        if self.expectation == SOURCE_DELIVERED and self.error:
            return self.error  # a required source with no file at all: the message says it all
        if self.error:
            return f"{where}{self.expectation} could not be evaluated: {self.error}"
        parts = [f"{where}{self.expectation} failed"]
        if self.unexpected_count is not None:
            parts.append(f"{self.unexpected_count} unexpected rows")
        if self.observed is not None:
            parts.append(f"observed {self.observed}")
        if self.examples:
            parts.append(f"examples {self.examples[:5]}")
        if self.setting:
            parts.append(
                f"threshold from the shop profile: if these values are right for the shop, "
                f"change {self.setting} in returnlens.yml (docs/profile.md)"
            )
        return ", ".join(parts)


@dataclass
class GateResult:
    """The outcome of one suite on one relation."""

    suite: str
    relation: str
    outcomes: list[ExpectationOutcome]
    # why the suite did not run, e.g. "not available: no web events delivered" (passes)
    skipped: str | None = None

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """Blocking failures: critical expectations that failed or could not run."""
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Non-blocking failures."""
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    @property
    def passed(self) -> bool:
        """True when no critical expectation failed."""
        return not self.failures

    def summary(self) -> str:
        """A short text for logs and Dagster metadata."""
        if self.skipped:
            return f"suite {self.suite} on {self.relation}: skipped, {self.skipped}"
        head = (
            f"suite {self.suite} on {self.relation}: {len(self.outcomes)} expectations, "
            f"{len(self.failures)} failed, {len(self.warnings)} warnings"
        )
        lines = [head] + [f"FAILED {o.describe()}" for o in self.failures]
        lines += [f"WARNING {o.describe()}" for o in self.warnings]
        return "\n".join(lines)


def suite_paths() -> list[Path]:
    """All versioned suites."""
    return sorted(EXPECTATIONS_DIR.glob("*.json"))


def render_query(query: str, parameters: dict[str, Any]) -> str:
    """Fill `{{ name }}` placeholders of a suite's query with SQL literals of its parameters
    (a list becomes a varchar list, e.g. the profile's closed weekdays)."""

    def literal(match: re.Match) -> str:
        name = match.group(1)
        if name not in parameters:
            raise ValueError(f"suite query placeholder {{{{ {name} }}}} has no parameter")
        value = parameters[name]
        if isinstance(value, list | tuple):
            items = ", ".join("'" + str(v).replace("'", "''") + "'" for v in value)
            return f"cast([{items}] as varchar[])"
        if isinstance(value, bool) or value is None:
            return "null" if value is None else str(value).lower()
        if isinstance(value, int | float):
            return repr(value)
        return "'" + str(value).replace("'", "''") + "'"

    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", literal, query)


def load_suite_file(path: Path) -> dict:
    """Read a suite file and check it names the relation it validates."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    relation = spec.get("meta", {}).get("relation")
    if not relation or "." not in relation:
        raise ValueError(f"{path}: meta.relation must name the table as '<schema>.<table>'")
    return spec


def run_suite(
    path: Path,
    warehouse: Path,
    *,
    docs_dir: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> GateResult:
    """Validate one suite; see `run_suites`."""
    spec = load_suite_file(path)
    return run_suites(
        [path], warehouse, docs_dir=docs_dir, parameters={spec["name"]: parameters or {}}
    )[0]


def run_suites(
    paths: list[Path],
    warehouse: Path,
    *,
    docs_dir: Path | None = None,
    parameters: dict[str, dict[str, Any]] | None = None,
) -> list[GateResult]:
    """Validate suites against the warehouse file and return readable results, in order.

    The suites share one in-memory GX context and one connection (a file-backed context spends
    most of its time rewriting its YAML config). The GX Data Docs site of these validations is
    written once at the end to `docs_dir` (default: `<data>/data_docs`), `index.html` first.
    `parameters[suite]` fill `{"$PARAMETER": name}` placeholders in that suite's kwargs.
    """
    defer_unused_imports()
    import great_expectations as gx
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.datasource.fluent import SQLDatasource
    from great_expectations.datasource.fluent.sql_datasource import QueryAsset
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    from returnlens.config import settings
    from returnlens.quality import gx_duckdb
    from returnlens.warehouse import sqlalchemy_url

    gx_duckdb.enable()
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    parameters = parameters or {}
    docs = Path(docs_dir or settings().data_dir / "data_docs")
    docs.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    context.update_data_docs_site(
        "local_site",
        {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    # Every suite's query is rendered up front: its asset is declared with its datasource below
    queries: dict[str, tuple[str, bool]] = {}
    first_path: dict[str, Path] = {}
    specs = [(path, load_suite_file(path)) for path in paths]  # each file read once
    for path, spec in specs:
        query = render_query(
            spec["meta"].get("query") or f"select * from {spec['meta']['relation']}",
            parameters.get(spec["name"], {}),
        )
        if not query.lstrip().lower().startswith("select "):
            query = f"select * from ({query}) as suite_query"  # GX wants a leading SELECT
        entry = (query, materialized(spec))
        if queries.get(spec["name"], entry) != entry:
            # one asset per name: two files of one name would be validated with one query
            raise ValueError(
                f"{path}: suite name {spec['name']!r} is also the name of {first_path[spec['name']]}"
                ", with another query: give each suite file its own name"
            )
        queries[spec["name"]] = entry
        first_path.setdefault(spec["name"], Path(path))
    sources: dict[bool, Any] = {}  # materialized? -> datasource

    def source_for(spec: dict) -> Any:
        return sources[materialized(spec)]

    run_id = RunIdentifier(run_name="returnlens", run_time=datetime.now(UTC))
    results: list[GateResult] = []
    added: set[str] = set()
    try:
        # One datasource per kind (temporary table or not), added to the context once with
        # every asset: added one by one, each asset and each batch definition made GX
        # serialise the whole context config again (106 times for the 54 suites, issue 16).
        for materialize in sorted({kind for _, kind in queries.values()}):
            sources[materialize] = context.data_sources.add_sql(
                SQLDatasource(
                    name="warehouse_results" if materialize else "warehouse",
                    connection_string=sqlalchemy_url(warehouse),
                    create_temp_table=materialize,
                    # Query assets: GX's column reflection ignores schema_name on DuckDB.
                    assets=[
                        QueryAsset(
                            name=name,
                            query=query,
                            batch_definitions=[BatchDefinition(name="whole_table")],
                        )
                        for name, (query, kind) in queries.items()
                        if kind == materialize
                    ],
                )
            )
        for _path, spec in specs:
            relation = spec["meta"]["relation"]
            if spec["name"] in added:  # the same suite twice: validate it again
                context.validation_definitions.delete(spec["name"])
                context.suites.delete(spec["name"])
            added.add(spec["name"])
            batch = source_for(spec).get_asset(spec["name"]).get_batch_definition("whole_table")
            suite = gx.ExpectationSuite(name=spec["name"], meta=spec.get("meta", {}))
            for exp in spec["expectations"]:
                config = ExpectationConfiguration(
                    type=exp["type"],
                    kwargs=exp.get("kwargs", {}),
                    meta=exp.get("meta", {}),
                    severity=exp.get("severity", "critical"),
                )
                suite.add_expectation_configuration(config)
            # The context is new, so each suite is added once (add_or_update saved the suite
            # and the datasource again), and validated without a Checkpoint of its own (the
            # validation stores its result for Data Docs itself): 8 % less CPU for the gates of
            # the tiny demo shop, same results (issue 16).
            suite = context.suites.add(suite)
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=spec["name"], data=batch, suite=suite)
            )
            # First only whether each expectation holds (no example queries); a suite with a
            # failure is validated again in full, for its counts and examples (issue 16).
            try:
                result = validation.run(
                    expectation_parameters=parameters.get(spec["name"], {}),
                    result_format=first_pass_format(spec),
                    run_id=run_id,
                )
            except Exception as error:  # reported as the suite's failure
                # a materialized query that cannot run fails before GX catches anything
                if not materialized(spec):
                    raise
                # DuckDB refuses every later statement of the aborted transaction otherwise
                connection = getattr(source_for(spec).get_execution_engine(), "_connection", None)
                if connection is not None:
                    connection.rollback()
                results.append(GateResult(spec["name"], relation, _not_evaluated(spec, error)))
                continue
            outcomes = [_outcome(r) for r in result.results]
            if not all(o.success for o in outcomes):
                # the same run id: this result replaces the first one in the Data Docs
                result = validation.run(
                    expectation_parameters=parameters.get(spec["name"], {}),
                    result_format=FULL_FORMAT,
                    run_id=run_id,
                )
                outcomes = [_outcome(r) for r in result.results]
            results.append(GateResult(spec["name"], relation, outcomes))
    finally:
        for source in sources.values():
            _close_engine(source.get_execution_engine())
            # the datasource's own engine (used to test the connection) pools a connection too
            datasource_engine = getattr(source, "_engine", None)
            if datasource_engine is not None:
                datasource_engine.dispose()
    context.build_data_docs()
    return results


# Modules GX imports when it is imported but only uses for expectations no suite of ours has
# (distribution tests, KL divergence): scipy.stats costs 0.6 s of CPU of GX's 2.6 s import, in
# the first gate step of every run (issue 16). They are loaded when first used.
DEFERRED_IMPORTS = ("scipy.stats",)


def defer_unused_imports() -> None:
    """Register `DEFERRED_IMPORTS` as lazily loaded modules (importlib's LazyLoader): the module
    runs when an attribute of it is first read, so code that uses it gets the real module. A
    module already imported is left as it is. LazyLoader is not thread-safe before Python 3.12:
    the gate steps run one at a time in the job's process (in-process executor), and no suite
    of ours reads scipy.stats, so no two threads load it at once."""
    import importlib
    import importlib.util
    import sys

    for name in DEFERRED_IMPORTS:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:  # `from scipy import stats` reads the attribute of the package
            setattr(importlib.import_module(parent), child, module)


def materialized(spec: dict) -> bool:
    """Whether GX first stores the suite's query result in a temporary table.

    A suite with a `meta.query` on a mart reconciles layers or checks a report: a handful of
    rows computed from whole tables (raw order lines joined with orders, say). Without a
    temporary table GX computes that query again for every metric query and for its column
    reflection (three times for fct_order_lines__reconciliation). Suites on a table, and the
    row-level queries of raw suites (a row per order), are read where they are, unless the suite
    asks with `meta.materialize`: a row-level query that joins a large table (raw_returns joined
    each return to the 10M order lines once per metric query, 7 times: 9 s of the raw gate at
    10M order lines, issue 16) is stored once, with only the columns its expectations read.
    """
    query = spec["meta"].get("query")
    if not query:
        return False
    if "materialize" in spec["meta"]:
        return bool(spec["meta"]["materialize"])
    return not spec["meta"]["relation"].startswith("raw.")


# A suite's first validation asks only whether each expectation holds: GX then runs no query
# for examples of unexpected values (one per column expectation, a scan each when all is well).
QUICK_FORMAT = {"result_format": "BOOLEAN_ONLY"}
# The counts of a not-null expectation are kept in the gate history even when it passes (the
# null-share gate of the next run starts from them): BASIC keeps them, without examples.
COUNTS_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
# A suite with a failure or a warning is validated again with counts and examples.
FULL_FORMAT = {"result_format": "SUMMARY"}
COUNTED_WHEN_PASSED = ("expect_column_values_to_not_be_null",)


def first_pass_format(spec: dict) -> dict:
    """The result format of a suite's first validation: counts where the history needs them."""
    if any(exp["type"] in COUNTED_WHEN_PASSED for exp in spec["expectations"]):
        return COUNTS_FORMAT
    return QUICK_FORMAT


def data_docs_index(docs_dir: Path | None = None) -> Path:
    """Where the GX Data Docs site of the last validations is."""
    from returnlens.config import settings

    return Path(docs_dir or settings().data_dir / "data_docs") / "index.html"


def _close_engine(engine: Any) -> None:
    """Release the DuckDB file: GX's close() disposes the pool but keeps the persisted
    connection open, which would hold DuckDB's lock for the rest of the process."""
    connection = getattr(engine, "_connection", None)
    if connection is not None:
        connection.close()
        engine._connection = None
    engine.close()


def _not_evaluated(spec: dict, error: BaseException) -> list[ExpectationOutcome]:
    """Every expectation of a suite whose data could not be read, failed with the reason."""
    reason = (str(error).strip().splitlines() or [repr(error)])[0]
    return [
        ExpectationOutcome(
            expectation=exp["type"],
            column=exp.get("kwargs", {}).get("column"),
            severity=str(exp.get("severity", "critical")).lower(),
            success=False,
            error=reason,
            setting=exp.get("meta", {}).get("setting"),
        )
        for exp in spec["expectations"]
    ]


def _outcome(r: Any) -> ExpectationOutcome:
    cfg = r.expectation_config
    info = r.exception_info or {}
    error = None
    if isinstance(info, dict):
        if info.get("raised_exception"):
            error = info.get("exception_message")
        else:
            nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
            if nested:
                error = nested[0].get("exception_message")
    res = r.result or {}
    severity = str(getattr(cfg, "severity", "critical") or "critical")
    severity = severity.split(".")[-1].lower()
    return ExpectationOutcome(
        expectation=cfg.type,
        column=cfg.kwargs.get("column")
        or (
            f"{cfg.kwargs['column_A']} vs {cfg.kwargs['column_B']}"
            if "column_A" in cfg.kwargs
            else None
        ),
        severity=severity,
        success=bool(r.success) and error is None,
        observed=_plain(res.get("observed_value")),
        unexpected_count=res.get("unexpected_count"),
        examples=[_plain(v) for v in list(res.get("partial_unexpected_list") or [])[:10]],
        error=error.splitlines()[0] if error else None,
        setting=(cfg.meta or {}).get("setting"),
    )


def _plain(value: Any) -> Any:
    """Make a GX result value JSON-friendly for Dagster metadata."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)
