"""The returns source: returns_<month>.csv by request month, one row per returned line, with
the return's status derived from its timestamps and resolution."""

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
    money_sql,
    optional,
    take,
    ts_array,
)
from returnlens.ingest.contracts import CONDITION_GRADES, DISPOSITIONS, REASON_CODES, RESOLUTIONS


def write_returns(wr: Writer, cat, od, rt, layout: Layout, drng) -> dict:
    """The returns; in dirty mode with orphan returns (of orders that do not exist), blank
    reason codes and variants of the reason texts. Returns dirty mode's facts about them."""
    share = W.DIRTY["duplicate_row_share"]
    wo, labels, bounds = layout.wo, layout.labels, layout.bounds
    facts: dict = {}
    rl, rr = rt.rl, rt.rl_rma
    order_no = od.ln_order[rl].astype(np.int64)
    line_no = od.ln_number[rl]
    reason = rt.reason.copy()
    variant = np.zeros(len(rl), np.int64)
    if drng is not None:
        single = np.flatnonzero(np.bincount(rr, minlength=rt.n_rma) == 1)
        n_orph = max(1, int(len(single) * W.DIRTY["orphan_return_share"]))
        orph_rma = drng.choice(single, min(n_orph, len(single)), replace=False)
        orph = np.isin(rr, orph_rma)
        order_no = np.where(orph, od.n + 1000 + rr, order_no)
        line_no = np.where(orph, 1, line_no)
        blank = (rt.text >= 0) & (drng.random(len(rl)) < W.DIRTY["reason_code_blank_share"])
        reason = np.where(blank, -1, reason)
        variant = np.where(
            (rt.text >= 0) & (drng.random(len(rl)) < W.DIRTY["reason_text_variant_share"]),
            drng.integers(1, 4, len(rl)),
            0,
        )
        facts["orphan_return_rma_ids"] = [f"RMA{i + 1:0{id_width(rt.n_rma, 7)}d}" for i in orph_rma]
        facts["blank_reason_code_rows"] = int(blank.sum())
        facts["reason_text_variant_rows"] = int((variant > 0).sum())
    t = pa.table(
        {
            "r": rr,
            "o": order_no,
            "n": line_no,
            "sku": dictionary(od.ln_sku[rl], cat.sku_code),
            "q": rt.qty,
            "reason": dictionary(reason, REASON_CODES),
            "text": dictionary(rt.text, rt.texts),
            "variant": variant,
            "req": rt.requested[rr].astype("datetime64[s]"),
            "recv": ts_array(rt.received[rr]),
            "insp": ts_array(rt.inspected[rr]),
            "refd": ts_array(rt.refunded[rr]),
            "cond": dictionary(rt.condition, CONDITION_GRADES),
            "disp": dictionary(rt.disposition, DISPOSITIONS),
            "res": dictionary(rt.resolution[rr], RESOLUTIONS),
            "amount": optional(rt.refund_c),
        }
    )
    wr_ = id_width(rt.n_rma, 7)
    sql = f"""
        select {id_sql("r", "RMA", wr_)} as rma_id, {id_sql("o", "O", wo)} as order_id,
            {id_sql("o", "O", wo)} || '-' || cast(n as varchar) as order_line_id,
            cast(sku as varchar) as sku, cast(q as integer) as quantity,
            cast(reason as varchar) as reason_code,
            case variant
                when 1 then upper(cast(text as varchar))
                when 2 then '  ' || cast(text as varchar) || ' '
                when 3 then upper(cast(text as varchar)[1]) || cast(text as varchar)[2:] || ' '
                else cast(text as varchar) end as reason_text,
            cast(req as timestamp) as requested_at, cast(recv as timestamp) as received_at,
            cast(insp as timestamp) as inspected_at, cast(refd as timestamp) as refunded_at,
            cast(cond as varchar) as condition_grade, cast(disp as varchar) as disposition,
            cast(res as varchar) as resolution, {money_sql("amount")} as refund_amount_eur,
            case
                when refd is not null and res = 'store_credit' then 'credited'
                when refd is not null then 'refunded'
                when res = 'exchange' and insp is not null then 'exchanged'
                when insp is not null then 'inspected'
                when recv is not null then 'received'
                else 'requested'
            end as status
        from src"""
    idx = dup_index(drng, len(rl), share)
    t, ts = take(t, rt.requested[rr], idx)
    wr.monthly(t, ts, sql, "returns", "returns", "csv", CSV_OPTS, "returns", labels, bounds)

    return facts
