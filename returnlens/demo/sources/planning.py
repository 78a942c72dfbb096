"""The planning source: one forecasts_<version>.parquet per monthly forecast version."""

from __future__ import annotations

import pyarrow as pa

from returnlens.demo.sources.files import Writer


def write_forecasts(wr: Writer, cat, fc) -> None:
    """The forecast versions (`fc`: (version, table) pairs; none without a planning source)."""
    out = wr.out
    skus = pa.array(cat.sku_code)
    for version, table in fc:
        t = table.append_column("sku", skus.take(pa.array(table["sku_i"])))
        wr.copy(
            t,
            "select sku, cast(week as date) as week_start_date, version as forecast_version, "
            "cast(created as date) as created_date, cast(units as double) as gross_demand_units "
            "from src order by sku, week_start_date",
            out / "planning" / f"forecasts_{version}.parquet",
            "format parquet, compression zstd",
            "demand_forecasts",
        )
