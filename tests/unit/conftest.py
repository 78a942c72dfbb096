"""Fixtures shared by the unit tests."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture()
def con(tmp_path):
    """A real DuckDB warehouse file in the test's temp folder."""
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()
