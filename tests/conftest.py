"""Shared fixtures: a small demo shop generated once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
