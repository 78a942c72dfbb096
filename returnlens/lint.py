"""`returnlens lint-dbt`: score the dbt project's metadata and measure its docs and test coverage.

Run by `make lint` after ruff and sqlfluff, so it must work in a fresh clone before any
`make run`. dbt-coverage reads the columns of every relation from `catalog.json`, which only
`dbt docs generate` against built relations writes; so the lint builds the project into an
EMPTY warehouse of its own in a temp folder: the raw tables are created empty from the landing
contracts (`ensure_raw_schema`, as the loader makes them), then `dbt build --empty` (seeds and
models, no tests: every select reads zero rows) and `dbt docs generate --no-compile`, all with
their own `--target-path` and `--log-path` in the temp folder. The user's `target/`, `logs/`,
warehouse and salt file are never touched. dbt runs in this process (one parse, reused by the
three commands): a dbt start and parse cost more than the empty build itself.

Then, on that manifest and catalog:
- dbt-score 0.19 with its default rules and the thresholds of `[tool.dbt-score]` in
  pyproject.toml (`fail_project_under`, `fail_any_item_under`);
- dbt-coverage 0.5: docs coverage of the columns of every model (must be 100 %), and dbt test
  coverage of the public marts' columns (at least 90 %). Public = `access: public` in the
  manifest; while no model is public, the models under `models/marts/` stand in for them.
  A column of a model whose contract is enforced and that carries a `not_null` constraint
  counts as tested: the warehouse checks it on every build, as the `not_null` data test did
  (the marts' not-null checks are constraints since issue 16: 494 data tests fewer per run).
  So does every column that a model's batched test lists (tests/dbt/generic/:
  `not_null_columns`, `expressions_are_true`, `accepted_values_columns`,
  `relationships_columns`, `unique_columns`: all of a model's checks of one kind in one test
  node, issue 16).

The figures are printed; the lint fails naming the models and columns that miss docs, the items
dbt-score scores too low with the rules they break, and the public columns without a test.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from returnlens.config import PROJECT_ROOT, environment
from returnlens.dbt_runner import location_args

DOCS_COVERAGE_MIN = 100.0  # % of model columns with a description
PUBLIC_TEST_COVERAGE_MIN = 90.0  # % of public marts' columns with at least one dbt test
MARTS_PATH = "models/marts/"  # the public set while no model has `access: public`
# dbt-score's default thresholds (5.0) apply when pyproject.toml has no [tool.dbt-score]
CONFIG_FILE = "pyproject.toml"


class DbtBuildError(RuntimeError):
    """The empty build or the docs generation failed: the message names the step and nodes."""


@dataclass
class ScoredItem:
    """One dbt-score evaluable (model, source, seed, macro, exposure) and its failing rules."""

    kind: str
    name: str
    score: float
    failing: list[str] = field(default_factory=list)  # "rule: message"


@dataclass
class Coverage:
    """Covered and total columns of a set of relations, and the misses per relation."""

    covered: int
    total: int
    misses: dict[str, list[str]] = field(default_factory=dict)  # relation -> columns

    @property
    def percent(self) -> float:
        """Coverage in % (100 when there is nothing to cover)."""
        return 100.0 * self.covered / self.total if self.total else 100.0


@dataclass
class LintResult:
    """The figures of one lint and the thresholds they are held to."""

    project_score: float
    items: list[ScoredItem]
    docs: Coverage
    public_tests: Coverage
    public_models: list[str]
    public_basis: str  # "access: public" | "models/marts/ (no model is public yet)"
    fail_project_under: float
    fail_any_item_under: float
    docs_min: float = DOCS_COVERAGE_MIN
    public_tests_min: float = PUBLIC_TEST_COVERAGE_MIN
    build_seconds: float = 0.0

    @property
    def items_below(self) -> list[ScoredItem]:
        """Evaluables scored under `fail_any_item_under`, lowest first."""
        low = [i for i in self.items if i.score < self.fail_any_item_under]
        return sorted(low, key=lambda i: (i.score, i.kind, i.name))

    @property
    def failures(self) -> list[str]:
        """One line per threshold that is not met (empty: the lint passes)."""
        out = []
        if self.project_score < self.fail_project_under:
            out.append(
                f"dbt-score project score {self.project_score:.2f} is under "
                f"{self.fail_project_under}"
            )
        if self.items_below:
            out.append(
                f"{len(self.items_below)} item(s) scored under {self.fail_any_item_under} "
                "by dbt-score"
            )
        if self.docs.percent < self.docs_min:
            out.append(
                f"docs coverage of model columns {self.docs.percent:.1f} % is under "
                f"{self.docs_min:g} %: {self.docs.total - self.docs.covered} column(s) of "
                f"{len(self.docs.misses)} model(s) have no description"
            )
        if self.public_tests.percent < self.public_tests_min:
            out.append(
                f"dbt test coverage of public marts' columns {self.public_tests.percent:.1f} % "
                f"is under {self.public_tests_min:g} %"
            )
        return out

    def format(self) -> str:
        """The report `make lint` prints: figures first, then what to fix."""
        lines = [
            f"dbt metadata lint (empty build and docs artifacts in {self.build_seconds:.1f} s)",
            f"  dbt-score project score       {self.project_score:6.2f}   (min "
            f"{self.fail_project_under}; every item min {self.fail_any_item_under}: "
            f"{len(self.items_below)} of {len(self.items)} below)",
            f"  docs coverage, model columns  {self.docs.percent:6.1f} % ({self.docs.covered} of "
            f"{self.docs.total}; min {self.docs_min:g} %)",
            f"  dbt test coverage, public     {self.public_tests.percent:6.1f} % "
            f"({self.public_tests.covered} of {self.public_tests.total} columns of "
            f"{len(self.public_models)} marts, public by {self.public_basis}; min "
            f"{self.public_tests_min:g} %)",
        ]
        if self.docs.misses:
            lines.append("Columns without a description (add them to the model's _*.yml):")
            lines += [f"  {m}: {', '.join(cols)}" for m, cols in sorted(self.docs.misses.items())]
        if self.items_below:
            lines.append(
                f"Items dbt-score scores under {self.fail_any_item_under} (fix the rules named):"
            )
            for item in self.items_below:
                lines.append(f"  {item.kind} {item.name}: {item.score:.1f}")
                lines += [f"    - {f}" for f in item.failing]
        if self.project_score < self.fail_project_under:
            counts = Counter(f.split(":", 1)[0] for i in self.items for f in i.failing)
            lines.append("Rules failed most often (items):")
            lines += [f"  {rule}: {n}" for rule, n in counts.most_common(8)]
        if self.public_tests.percent < self.public_tests_min:
            lines.append("Public marts' columns without a dbt test:")
            lines += [
                f"  {m}: {', '.join(cols)}" for m, cols in sorted(self.public_tests.misses.items())
            ]
        failures = self.failures
        if failures:
            lines.append("dbt metadata lint FAILED:")
            lines += [f"  {f}" for f in failures]
        else:
            lines.append("dbt metadata lint passed.")
        return "\n".join(lines)

    def to_json(self) -> str:
        """The figures as JSON (for scripts and tests)."""
        doc = asdict(self)
        doc["docs"]["percent"] = self.docs.percent
        doc["public_tests"]["percent"] = self.public_tests.percent
        doc["failures"] = self.failures
        return json.dumps(doc, indent=2, sort_keys=True)


def _dbt_failure(step: str, res) -> DbtBuildError:
    """A readable error for a failed dbt invocation: the step and the failing nodes."""
    detail = str(res.exception) if res.exception else ""
    results = getattr(res.result, "results", None) or []
    bad = [
        f"{r.node.unique_id}: {(r.message or '').splitlines()[0] if r.message else r.status}"
        for r in results
        if str(r.status) in ("error", "fail", "runtime error")
    ]
    return DbtBuildError(
        f"`dbt {step}` failed on the empty lint warehouse"
        + (f": {detail}" if detail else "")
        + ("".join(f"\n  {b}" for b in bad))
        + "\nFix the model (`dbt build` shows the same error) and run `make lint` again."
    )


def build_artifacts(project_dir: Path, work_dir: Path) -> Path:
    """Build the project into an empty DuckDB in `work_dir`; return the folder with the
    manifest.json and catalog.json (`work_dir/target`)."""
    import duckdb
    from dbt.cli.main import dbtRunner

    from returnlens.ingest.loader import ensure_raw_schema
    from returnlens.profile import ShopProfile, dbt_vars_json

    work_dir = Path(work_dir)
    warehouse = work_dir / "lint.duckdb"
    target = work_dir / "target"
    con = duckdb.connect(str(warehouse))
    try:
        ensure_raw_schema(con)  # every landing entity's raw table, empty, as the loader makes it
    finally:
        con.close()
    common = [*location_args(project_dir, target, work_dir / "logs"), "--quiet"]
    # the built-in profile's vars: metadata must not depend on one shop's settings
    dbt_vars = ["--vars", dbt_vars_json(ShopProfile())]
    env = {
        "RETURNLENS_WAREHOUSE": str(warehouse),
        "RETURNLENS_DATA_DIR": str(work_dir),
        # a throw-away salt: no row is hashed, and the installation's salt file stays untouched
        "RETURNLENS_PII_SALT": secrets.token_hex(32),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with environment(env, **env), contextlib.chdir(project_dir):
        res = dbtRunner().invoke(["parse", *common, *dbt_vars])
        if not res.success:
            raise _dbt_failure("parse", res)
        runner = dbtRunner(manifest=res.result)
        res = runner.invoke(
            [
                "build",
                "--empty",
                "--exclude-resource-type",
                "test",
                "--exclude-resource-type",
                "unit_test",
                *common,
                *dbt_vars,
            ]
        )
        if not res.success:
            raise _dbt_failure("build --empty", res)
        res = runner.invoke(["docs", "generate", "--no-compile", *common, *dbt_vars])
        if not res.success:
            raise _dbt_failure("docs generate", res)
    return target


def _dbt_score_config(project_dir: Path):
    """dbt-score's configuration from the project's pyproject.toml (else the repository's)."""
    from dbt_score.config import Config

    config = Config()
    config_file = Config.get_config_file(Path(project_dir).resolve())
    if config_file is None:
        config_file = PROJECT_ROOT / CONFIG_FILE
    with contextlib.chdir(config_file.parent):  # Config.load reads pyproject.toml from the cwd
        config.load()
    return config


def score(manifest_path: Path, project_dir: Path) -> tuple[float, list[ScoredItem], object]:
    """dbt-score's project score and every evaluable's score with its failing rules."""
    from dbt_score.lint import lint_dbt_project
    from dbt_score.rule import RuleViolation

    config = _dbt_score_config(project_dir)
    with contextlib.redirect_stdout(io.StringIO()):  # its JSON report: we read the objects
        evaluation = lint_dbt_project(manifest_path=manifest_path, config=config, format="json")
    items = []
    for evaluable, result in evaluation.scores.items():
        failing = [
            f"{rule.__name__}: {outcome.message}"
            if isinstance(outcome, RuleViolation)
            else f"{rule.__name__}: rule error {outcome}"
            for rule, outcome in evaluation.results[evaluable].items()
            if outcome is not None
        ]
        name = getattr(evaluable, "selector_name", None) or evaluable.name
        items.append(ScoredItem(type(evaluable).__name__.lower(), name, result.value, failing))
    return evaluation.project_score.value, items, config


def public_models(manifest: dict) -> tuple[list[str], str]:
    """Unique ids of the public models, and on what basis they count as public."""
    models = {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model"
        and n["package_name"] == manifest["metadata"]["project_name"]
    }
    public = sorted(uid for uid, n in models.items() if n.get("access") == "public")
    if public:
        return public, "access: public"
    marts = sorted(
        uid
        for uid, n in models.items()
        if Path(n["original_file_path"]).as_posix().startswith(MARTS_PATH)
    )
    return marts, f"{MARTS_PATH} (no model is public yet)"


def _coverage(report) -> Coverage:
    """Our figures from a dbt-coverage catalog report."""
    misses = {
        table: sorted(c.column_name for c in sub.misses)
        for table, sub in report.subentities.items()
        if sub.misses
    }
    return Coverage(len(report.covered), len(report.total), misses)


def enforced_not_null_columns(target: Path) -> list[tuple[str, str]]:
    """(model unique id, column) of every column with a `not_null` constraint in a model whose
    contract is enforced: the build fails on a null there, so the column is tested."""
    manifest = json.loads((Path(target) / "manifest.json").read_text(encoding="utf-8"))
    return [
        (uid, name.lower())
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and (node.get("config", {}).get("contract") or {}).get("enforced")
        for name, column in node.get("columns", {}).items()
        if any(c.get("type") == "not_null" for c in column.get("constraints") or [])
    ]


# tests/dbt/generic/: one node per model for all its checks of a kind, and the argument
# listing them; an entry names its column by this key (or is the column name)
BATCHED_TESTS = {
    "not_null_columns": ("columns", "name"),
    "expressions_are_true": ("expressions", "column"),
    "accepted_values_columns": ("columns", "name"),
    "relationships_columns": ("columns", "name"),
    "unique_columns": ("columns", "name"),
}


def batched_test_columns(target: Path) -> list[tuple[str, str]]:
    """(model unique id, column) of every column a batched test (`BATCHED_TESTS`) checks: it
    fails with a row naming each of its columns that fails, as a test per column would."""
    manifest = json.loads((Path(target) / "manifest.json").read_text(encoding="utf-8"))
    found = []
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or meta.get("name") not in BATCHED_TESTS:
            continue
        argument, key = BATCHED_TESTS[meta["name"]]
        for entry in (meta.get("kwargs") or {}).get(argument) or []:
            column = entry.get(key) if isinstance(entry, dict) else entry
            if column:  # an expression on the whole row names no column
                found.append((node["attached_node"], column.lower()))
    return found


def coverage(target: Path, project_dir: Path, public: list[str]) -> tuple[Coverage, Coverage]:
    """dbt-coverage: docs coverage of all models' columns, test coverage of `public` models'."""
    from dbt_coverage import Catalog, CoverageType, compute_coverage, load_files

    catalog = load_files(Path(project_dir), Path(target))
    for uid, column in enforced_not_null_columns(target) + batched_test_columns(target):
        table = catalog.models.get(uid)
        if table is not None and column in table.columns:
            table.columns[column].tests = (table.columns[column].tests or 0) + 1
    models = Catalog(sources={}, models=catalog.models, seeds={}, snapshots={})
    public_only = Catalog(
        sources={},
        models={uid: t for uid, t in catalog.models.items() if uid in set(public)},
        seeds={},
        snapshots={},
    )
    docs = _coverage(compute_coverage(models, CoverageType.DOC))
    tests = _coverage(compute_coverage(public_only, CoverageType.TEST))
    return docs, tests


def lint_dbt(project_dir: Path = PROJECT_ROOT, work_dir: Path | None = None) -> LintResult:
    """Build the artifacts (in `work_dir`, else a temp folder removed afterwards) and measure."""
    project_dir = Path(project_dir).resolve()
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rl-lint-")))
        started = time.perf_counter()
        target = build_artifacts(project_dir, Path(work_dir))
        built = time.perf_counter() - started
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        project_score, items, config = score(target / "manifest.json", project_dir)
        public, basis = public_models(manifest)
        docs, tests = coverage(target, project_dir, public)
    return LintResult(
        project_score=project_score,
        items=sorted(items, key=lambda i: (i.kind, i.name)),
        docs=docs,
        public_tests=tests,
        public_models=[uid.rsplit(".", 1)[-1] for uid in public],
        public_basis=basis,
        fail_project_under=config.fail_project_under,
        fail_any_item_under=config.fail_any_item_under,
        build_seconds=built,
    )
