"""Planning in the world model: monthly demand-forecast versions, six weeks ahead per sku, the
expected gross demand with lognormal noise."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from returnlens.demo import world as W
from returnlens.demo.timeline import DAY0, EXT_LO


def forecasts(rng, cat) -> list[tuple[str, pa.Table]]:
    versions = np.arange(np.datetime64(W.PERIOD_START, "M"), np.datetime64(W.PERIOD_END, "M"))
    units_pd = cat.demand.units_pd
    sku_share = cat.s_size_prob  # P(size) / n_colours, per sku
    out = []
    n_s = len(cat.s_prod)
    for v in versions:
        created = v.astype("datetime64[D]")
        weekday = (created.astype(np.int64) + 3) % 7
        monday = created + (7 - weekday)
        weeks = monday + 7 * np.arange(W.FORECAST_WEEKS)
        rows_u = []
        for wk in weeks:
            d0 = int((wk - DAY0).astype(int)) - EXT_LO
            prod_units = units_pd[:, d0 : d0 + 7].sum(1)
            rows_u.append(prod_units[cat.s_prod] * sku_share)
        exp = np.concatenate(rows_u)
        noise = np.exp(rng.normal(0, W.FORECAST_NOISE_SD, len(exp)) - W.FORECAST_NOISE_SD**2 / 2)
        table = pa.table(
            {
                "sku_i": np.tile(np.arange(n_s), W.FORECAST_WEEKS),
                "week": np.repeat(weeks, n_s).astype("datetime64[D]"),
                "version": pa.array([str(v)] * len(exp)),
                "created": np.full(len(exp), created),
                "units": np.round(exp * noise, 2),
            }
        )
        out.append((str(v), table))
    return out
