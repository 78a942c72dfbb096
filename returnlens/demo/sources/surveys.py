"""The surveys source: nps_<month>.csv by response month."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from returnlens.demo import world as W
from returnlens.demo.sampling import id_width
from returnlens.demo.sources.files import (
    CSV_OPTS,
    Layout,
    Writer,
    dictionary,
    dup_index,
    id_sql,
    optional,
    take,
)
from returnlens.ingest.contracts import TOUCHPOINTS


def write_surveys(wr: Writer, nps, layout: Layout, drng) -> None:
    """The NPS answers, with duplicated rows in dirty mode."""
    share = W.DIRTY["duplicate_row_share"]
    wc, wo, labels, bounds = layout.wc, layout.wo, layout.labels, layout.bounds
    t = pa.table(
        {
            "i": np.arange(nps.n),
            "c": nps.customer,
            "o": nps.order,
            "touch": dictionary(nps.touch, TOUCHPOINTS),
            "ts": nps.responded.astype("datetime64[s]"),
            "score": nps.score,
            "rating": optional(nps.rating),
            "comment": dictionary(nps.comment, nps.comments),
        }
    )
    sql = f"""
        select {id_sql("i", "N", id_width(nps.n, 7))} as response_id, {id_sql("c", "C", wc)} as customer_id,
            {id_sql("o", "O", wo)} as order_id, cast(touch as varchar) as touchpoint,
            cast(ts as timestamp) as responded_at, cast(score as integer) as score,
            cast(rating as integer) as rating, cast(comment as varchar) as comment
        from src"""
    idx = dup_index(drng, nps.n, share)
    t, ts = take(t, nps.responded, idx)
    wr.monthly(t, ts, sql, "surveys", "nps", "csv", CSV_OPTS, "nps_responses", labels, bounds)
