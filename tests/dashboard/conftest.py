"""Dashboard tests run against the serving database of the shared end-to-end pipeline run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
PAGES = (
    "overview",
    "quality",
    "customers",
    "interventions",
    "planning",
    "behaviour",
    "review_queue",
    "data_health",
)


@pytest.fixture(scope="session")
def serving(pipeline_run) -> Path:
    """The published serving file of the pipeline run (read-only use only)."""
    assert pipeline_run.success, "the pipeline run failed; see tests/integration"
    assert pipeline_run.serving.exists()
    return pipeline_run.serving


@pytest.fixture
def serving_env(serving, monkeypatch) -> Path:
    """RETURNLENS_SERVING pointing at the pipeline's serving file for one test."""
    monkeypatch.setenv("RETURNLENS_SERVING", str(serving))
    return serving


@pytest.fixture
def serving_copy(serving, tmp_path, monkeypatch) -> Path:
    """A private copy of the serving file (for tests that replace or alter it)."""
    target = tmp_path / "serving" / "serving.duckdb"
    target.parent.mkdir()
    shutil.copy2(serving, target)
    monkeypatch.setenv("RETURNLENS_SERVING", str(target))
    return target


def app_env(serving: Path) -> dict[str, str]:
    """Environment of a dashboard server reading `serving`."""
    return {**os.environ, "RETURNLENS_SERVING": str(serving)}
