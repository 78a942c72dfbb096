"""The pipeline on the shop platforms' layouts (Shopify's connector tables and its admin
export, WooCommerce) gives the native run's marts but those listed with their causes
(tests/integration/layout_marts.py)."""

from __future__ import annotations

import pytest

from tests.integration.layout_marts import check_layout

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("layout", ["shopify", "shopify-admin-export", "woocommerce"])
def test_every_mart_equals_the_native_run_but_the_listed(layout, native_warehouse, tmp_path):
    check_layout(layout, native_warehouse, tmp_path)
