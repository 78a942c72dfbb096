"""The loyalty gap: a slow refund loses the shop a share of its customers for a while.

`plant(rng, od, lm, rt)` runs after the orders, the line model and the returns (interventions
applied) are drawn: for each RMA whose refund came more than W.SLOW_REFUND_DAYS days after its
request, the customer is lost with probability LOST_AFTER_SLOW_REFUND, and then none of the
orders they would have placed in the LOST_DAYS days after that refund is placed. The dropped
orders go with everything that hangs on them (their items, lines, line-model rows, returns and
RMAs); the sources drawn later (NPS answers, web sessions and events, the ground truth) are
drawn from what remains, so nothing refers to a dropped order. The draws use a generator of
their own, so the orders, lines and returns that remain keep every drawn value.

A customer's first order is never dropped (it comes before any refund), so the customers'
created dates stay as drawn; nor is an order with a line of a planted defective batch, so the
planted quality signals keep every drawn line and return (a batch has a few dozen lines at
the e2e scale: losing one of its returns could hide it). `od.purchased` (the customer x product pairs the browsing sessions
avoid) keeps the dropped orders' pairs: browsing then avoids a few more products, which keeps
the views-before-order count exact all the same.

The truth (`truth`) is computed on the shop before the drop, per order with a slow first refund
(the way kpi_loyalty_after_returns segments them: refunded more than slow_refund_days after the
request): its repeat-purchase rate within 90 and 180 days without the gap, and the rate
expected with it: an order whose every later order in the window comes after its refund loses
its repeat purchase with probability LOST_AFTER_SLOW_REFUND unless one of them is spared (the
other slow refunds of the same customer are not counted, hence "approximately").
"""

from __future__ import annotations

import numpy as np

from returnlens.demo import world as W
from returnlens.demo.timeline import DAY

LOST_AFTER_SLOW_REFUND = 0.5  # share of customers lost after a slow refund
LOST_DAYS = 180  # for this many days after the refund
WINDOWS = (90, 180)


def _sorted_key(od) -> tuple[np.ndarray, np.ndarray]:
    """Orders sorted by (customer, timestamp): the order indices and their sort keys."""
    span = int(od.ts.max()) + (LOST_DAYS + 400) * DAY  # larger than any timestamp + window
    key = od.customer.astype(np.int64) * span + od.ts
    o = np.argsort(key, kind="stable")
    return o, key[o], span


def _covered(sorted_key, span, customer, lo, hi) -> np.ndarray:
    """Per position of the sorted orders: how many of the (customer, lo < ts <= hi) windows
    hold it."""
    base = customer.astype(np.int64) * span
    a = np.searchsorted(sorted_key, base + lo, "right")
    b = np.searchsorted(sorted_key, base + hi, "right")
    d = np.zeros(len(sorted_key) + 1, np.int64)
    np.add.at(d, a, 1)
    np.add.at(d, b, -1)
    return np.cumsum(d)[:-1]


def _slow_rmas(rt) -> np.ndarray:
    return np.flatnonzero(
        (rt.refunded >= 0) & (rt.refunded - rt.requested > W.SLOW_REFUND_DAYS * DAY)
    )


def _spared(od, lm) -> np.ndarray:
    """Per order: it holds a line of a planted defective batch, so it is never dropped."""
    return np.bincount(od.ln_order[lm.defect], minlength=od.n) > 0


def truth(od, lm, rt, sorted_key=None) -> dict:
    """The planted gap, computed on the shop before the drop (see the module docstring);
    `sorted_key`: `_sorted_key(od)` if already computed."""
    slow = _slow_rmas(rt)
    o, sk, span = sorted_key or _sorted_key(od)
    spared = np.concatenate([[0], np.cumsum(_spared(od, lm)[o])])  # spared orders before a position
    order = rt.rma_order[slow]
    cust, ts, refunded = od.customer[order], od.ts[order], rt.refunded[slow]
    base = cust.astype(np.int64) * span
    out = {
        "lost_after_slow_refund_probability": LOST_AFTER_SLOW_REFUND,
        "lost_days_after_refund": LOST_DAYS,
        "slow_refund_days": W.SLOW_REFUND_DAYS,
        "slow_refund_orders": len(slow),
    }
    for w in WINDOWS:
        end = ts + w * DAY
        # later orders in (ts, ts + w] and those before the refund, (ts, min(refund, ts + w)]
        first = np.searchsorted(sk, base + ts, "right")
        cut = np.searchsorted(sk, base + np.minimum(refunded, end), "right")
        last = np.searchsorted(sk, base + end, "right")
        # later orders in the window; those that stay for sure: before the refund, or spared
        n_all = last - first
        n_kept = (cut - first) + (spared[last] - spared[cut])
        before = float((n_all > 0).mean()) if len(slow) else float("nan")
        at_risk = float(((n_all > 0) & (n_kept == 0)).mean()) if len(slow) else float("nan")
        expected = before - LOST_AFTER_SLOW_REFUND * at_risk
        out[f"repeat_rate_{w}d_without_gap"] = round(before, 5)
        out[f"repeat_rate_{w}d_expected"] = round(expected, 5)
        out[f"expected_relative_drop_{w}d"] = round(1 - expected / before, 5) if before else None
    return out


def plant(rng: np.random.Generator, od, lm, rt) -> dict:
    """Drop the orders of customers lost after a slow refund, in place (see the module
    docstring); returns the ground truth's "loyalty" block plus the dropped order count."""
    o, sk, span = _sorted_key(od)
    facts = truth(od, lm, rt, (o, sk, span))
    slow = _slow_rmas(rt)
    lost = slow[rng.random(len(slow)) < LOST_AFTER_SLOW_REFUND]
    order = rt.rma_order[lost]
    cover = _covered(
        sk, span, od.customer[order], rt.refunded[lost], rt.refunded[lost] + LOST_DAYS * DAY
    )
    drop = np.zeros(od.n, bool)
    drop[o] = cover > 0
    drop &= ~_spared(od, lm)
    facts["orders_dropped"] = int(drop.sum())
    facts["customers_lost"] = len(np.unique(od.customer[order]))
    if drop.any():
        _subset(od, lm, rt, ~drop)
    return facts


def _subset(od, lm, rt, keep_o: np.ndarray) -> None:
    """Keep the orders `keep_o` (a mask) and everything that hangs on them, reindexed."""
    n_o, n_l = od.n, len(od.ln_order)
    keep_i = keep_o[od.it_order]
    keep_l = keep_o[od.ln_order]
    new_o = np.cumsum(keep_o) - 1
    new_i = np.cumsum(keep_i) - 1
    new_l = np.cumsum(keep_l) - 1
    # by name: a list of the (name, array) pairs would hold every old array until the loop ends
    for name in list(vars(od)):
        value = getattr(od, name)
        if not isinstance(value, np.ndarray) or name == "purchased":
            continue
        if name.startswith("ln_"):
            setattr(od, name, value[keep_l])
        elif name.startswith("it_"):
            setattr(od, name, value[keep_i])
        elif len(value) == n_o:
            setattr(od, name, value[keep_o])
    od.it_order = new_o[od.it_order]
    od.ln_order = new_o[od.ln_order]
    od.ln_item = new_i[od.ln_item]
    od.it_first_line = np.cumsum(od.it_k) - od.it_k
    od.n = int(keep_o.sum())
    for name in list(vars(lm)):
        value = getattr(lm, name)
        if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == n_l:
            setattr(lm, name, value[keep_l])
    rt.returned, rt.q_r = rt.returned[keep_l], rt.q_r[keep_l]
    keep_r = keep_o[rt.rma_order]
    keep_rl = keep_r[rt.rl_rma]
    new_r = np.cumsum(keep_r) - 1
    for name in ("rl", "rl_rma", "qty", "reason", "text", "condition", "disposition", "refund_c"):
        setattr(rt, name, getattr(rt, name)[keep_rl])
    rt.rl = new_l[rt.rl]
    rt.rl_rma = new_r[rt.rl_rma]
    for name in ("rma_order", "requested", "received", "inspected", "refunded", "resolution"):
        setattr(rt, name, getattr(rt, name)[keep_r])
    rt.rma_abuser = rt.rma_abuser[keep_r]
    rt.rma_order = new_o[rt.rma_order]
    rt.n_rma = int(keep_r.sum())
