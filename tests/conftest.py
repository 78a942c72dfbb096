"""Shared fixtures: a small demo shop generated once per test session, and one real pipeline
run on another small demo shop shared by the integration and dashboard tests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

# `make test` runs the suite in two processes (pytest-xdist): each keeps dbt's artifacts and logs
# in folders of its own, so two dbt parses never write the same target/manifest.json
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ["DBT_TARGET_PATH"] = f"target/{_WORKER}"
    os.environ["DBT_LOG_PATH"] = f"logs/{_WORKER}"

# The modules that take longest, longest first (seconds in a fresh clone's `make test` on the
# 2-core machine, 2026-11-28): `make test` runs them before the rest (--dist loadfile
# --no-loadscope-reorder), so no long module is left for the end while the other process
# idles. Scheduling only: every test runs either way. Shopify's layouts come first: they make
# the native run the other layouts share (conftest native_warehouse), ready when those start.
LONGEST_FIRST = (
    "integration/test_layout_marts_shopify.py",  # ~345: 2 layout runs + the shared native run
    "integration/test_pii_scan.py",  # ~225: 2 runs with PII planted, byte scans
    "integration/test_layout_marts_others.py",  # ~245: 3 layout runs
    "integration/test_landing_sensor_run.py",  # ~150: 2 runs
    "integration/test_incremental_runs.py",  # ~130: 2 runs without gates + a partial rebuild
    "integration/test_privacy_defects.py",  # ~130 with the session run
    "integration/test_alerts_at_scale.py",  # ~90
    "integration/test_referential_defects.py",  # ~85
    "integration/test_mixed_deliveries.py",  # ~80
    "integration/test_publish_defects.py",  # ~65
    "integration/test_optional_sources.py",  # ~60
)


def pytest_collection_modifyitems(config, items):
    """Put LONGEST_FIRST's modules first, in that order; the rest keep their order."""

    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0].removeprefix("tests/")
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


# The repository's own data folder (the default RETURNLENS_DATA_DIR): a person's warehouse,
# landing files and PII salt live there, so no test may write into it.
REPO_DATA = Path(__file__).resolve().parents[1] / "data"


def _repo_data_state() -> dict[str, tuple[int, int] | None]:
    """Every path under the repository's data folder: (size, mtime) of a file, None for a
    folder; the folder itself as "." when it exists."""
    if not REPO_DATA.exists():
        return {}
    state: dict[str, tuple[int, int] | None] = {".": None}
    for path in REPO_DATA.rglob("*"):
        st = path.lstat()
        name = path.relative_to(REPO_DATA).as_posix()
        state[name] = (
            None if path.is_dir() and not path.is_symlink() else (st.st_size, st.st_mtime_ns)
        )
    return state


_REPO_DATA_AT_START = pytest.StashKey[dict]()
_REPO_DATA_WRITTEN = pytest.StashKey[str]()


def _changes(before: dict, after: dict) -> str:
    """The paths that differ between two `_repo_data_state`s, for a message."""
    changed = sorted(k for k in after.keys() | before.keys() if after.get(k, 0) != before.get(k, 0))
    more = f" and {len(changed) - 10} more" if len(changed) > 10 else ""
    return ", ".join(changed[:10]) + more


def pytest_sessionstart(session):
    """Note the repository's data folder as the session finds it."""
    session.config.stash[_REPO_DATA_AT_START] = _repo_data_state()


def pytest_sessionfinish(session):
    """Fail the session when it wrote into the repository's data folder (also what a session
    fixture wrote, which no test's own check sees; with `make test`'s two processes, the
    process that started them checks, after both)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    changed = _changes(session.config.stash[_REPO_DATA_AT_START], _repo_data_state())
    if changed:
        session.config.stash[_REPO_DATA_WRITTEN] = changed
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    """Say what the session wrote into the repository's data folder (see pytest_sessionfinish)."""
    changed = config.stash.get(_REPO_DATA_WRITTEN, None)
    if changed:
        terminalreporter.section("the repository's data folder was written", red=True, bold=True)
        terminalreporter.write_line(
            f"FAILED: the test session wrote into {REPO_DATA}: {changed}. A test or a fixture "
            "wrote there instead of a temp folder (RETURNLENS_DATA_DIR); find it, give it a temp "
            "folder, and remove what it left there.",
            red=True,
        )


# the paths that default to places under the data folder (returnlens/config.py, exports.py)
DATA_PATH_VARS = (
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "RETURNLENS_REPORTS_DIR",
    "RETURNLENS_EXPORTS_DIR",
    "RETURNLENS_PII_SALT_FILE",
    "RETURNLENS_SPILL_DIR",
)


@pytest.fixture(scope="session", autouse=True)
def _session_data_dir(tmp_path_factory):
    """A temp data folder for the whole session (RETURNLENS_DATA_DIR, the paths under it
    unset), so a test that sets no folder of its own writes there, never into the repository's
    data folder or a person's own (a test that sets its own, as most do, keeps it)."""
    with pytest.MonkeyPatch.context() as mp:
        for var in DATA_PATH_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("RETURNLENS_DATA_DIR", str(tmp_path_factory.mktemp("session_data")))
        yield


@pytest.fixture(autouse=True)
def _repo_data_untouched():
    """Fail the test (an error at its teardown) that wrote into the repository's data folder,
    naming what it wrote: a test's files belong in a temp folder (RETURNLENS_DATA_DIR)."""
    before = _repo_data_state()
    yield
    after = _repo_data_state()
    if after == before:
        return
    pytest.fail(
        f"this test (or one running beside it in another process) wrote into the repository's "
        f"data folder {REPO_DATA}: {_changes(before, after)}. Give it a temp folder "
        "(RETURNLENS_DATA_DIR or the setting of the path it wrote), and remove what it left there.",
        pytrace=False,
    )


DEMO_SEED = 7
DEMO_SCALE = 0.3


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory) -> Path:
    """Landing zone of the demo shop (seed 7, scale 0.3: ~30k orders, ~45k lines)."""
    from returnlens.demo.generator import generate

    out = tmp_path_factory.mktemp("demo_landing")
    generate(out, seed=DEMO_SEED, scale=DEMO_SCALE)
    return out


@pytest.fixture(scope="session")
def ground_truth(demo_landing: Path) -> dict:
    """The demo shop's ground_truth.json."""
    return json.loads((demo_landing / "ground_truth.json").read_text())


E2E_SEED = 11
E2E_SCALE = 0.1

ENV_VARS = (
    "RETURNLENS_DATA_DIR",
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "DAGSTER_HOME",
)


@dataclass
class PipelineRun:
    """Where a test pipeline run put its files, and how the run ended."""

    data_dir: Path
    landing: Path
    warehouse: Path
    serving: Path
    success: bool
    result: object


@pytest.fixture(scope="session")
def isolated_env(tmp_path_factory):
    """Point every Returnlens and Dagster path at a temp folder for the session."""
    data_dir = tmp_path_factory.mktemp("e2e")
    saved = {k: os.environ.get(k) for k in ENV_VARS}
    os.environ["RETURNLENS_DATA_DIR"] = str(data_dir)
    for k in ENV_VARS[1:]:
        os.environ.pop(k, None)
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster_home")
    yield data_dir
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def pipeline_run(isolated_env) -> PipelineRun:
    """Generate a small demo shop and run the real main job (Dagster in-process, dbt, GX)."""
    from returnlens.config import settings
    from returnlens.demo.generator import generate
    from returnlens.pipeline import run_main_job

    cfg = settings()
    generate(cfg.landing_dir, seed=E2E_SEED, scale=E2E_SCALE)
    result = run_main_job()
    return PipelineRun(
        data_dir=cfg.data_dir,
        landing=cfg.landing_dir,
        warehouse=cfg.warehouse,
        serving=cfg.serving,
        success=result.success,
        result=result,
    )
