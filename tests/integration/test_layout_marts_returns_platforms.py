"""The pipeline on the returns platforms' layouts (bol.com, Sendcloud) gives the native run's
marts but those listed with their causes (tests/integration/layout_marts.py)."""

from __future__ import annotations

import pytest

from tests.integration.layout_marts import check_layout

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("layout", ["bol", "sendcloud"])
def test_every_mart_equals_the_native_run_but_the_listed(layout, native_warehouse, tmp_path):
    check_layout(layout, native_warehouse, tmp_path)
