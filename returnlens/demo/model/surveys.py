"""Surveys in the world model: NPS answers after a delivery and after a refund, lower after a
late delivery or a slow refund."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from returnlens.demo import world as W
from returnlens.demo.timeline import DAY, T_ASOF


def surveys(rng, od, rt) -> SimpleNamespace:
    deliv = np.flatnonzero((od.delivered >= 0) & (rng.random(od.n) < W.POST_DELIVERY_SHARE))
    r1 = od.delivered[deliv] + rng.integers(DAY, 7 * DAY, len(deliv))
    s1 = rng.normal(W.SCORE_MEAN_DELIVERY, W.SCORE_SD, len(deliv))
    s1 = s1 - W.LATE_DELIVERY_PENALTY * (od.ddays[deliv] >= 4)
    rmas = np.flatnonzero((rt.refunded >= 0) & (rng.random(rt.n_rma) < W.POST_RETURN_SHARE))
    r2 = rt.refunded[rmas] + rng.integers(DAY // 2, 5 * DAY, len(rmas))
    slow = (rt.refunded[rmas] - rt.requested[rmas]) > W.SLOW_REFUND_DAYS * DAY
    s2 = rng.normal(W.SCORE_MEAN_RETURN, W.SCORE_SD, len(rmas)) - W.SLOW_REFUND_PENALTY * slow
    order = np.concatenate([deliv, rt.rma_order[rmas]])
    responded = np.concatenate([r1, r2])
    touch = np.concatenate([np.zeros(len(deliv), np.int64), np.ones(len(rmas), np.int64)])
    score = np.clip(np.round(np.concatenate([s1, s2])), 0, 10).astype(np.int64)
    keep = responded <= T_ASOF
    order, responded, touch, score = order[keep], responded[keep], touch[keep], score[keep]
    o = np.argsort(responded, kind="stable")
    order, responded, touch, score = order[o], responded[o], touch[o], score[o]
    n = len(order)
    rating = np.clip(np.round((score + 1) / 2.2 + rng.normal(0, 0.45, n)), 1, 5).astype(np.int64)
    rating = np.where(rng.random(n) < W.RATING_NULL_SHARE, -1, rating)
    bucket = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
    comments = [c for b in ("detractor", "passive", "promoter") for c in W.COMMENTS[b]]
    c_n = np.array([len(W.COMMENTS[b]) for b in ("detractor", "passive", "promoter")])
    c_off = np.cumsum(c_n) - c_n
    comment = c_off[bucket] + (rng.random(n) * c_n[bucket]).astype(np.int64)
    comment = np.where(rng.random(n) < W.COMMENT_SHARE, comment, -1)
    return SimpleNamespace(
        n=n,
        order=order,
        customer=od.customer[order],
        responded=responded,
        touch=touch,
        score=score,
        rating=rating,
        comment=comment,
        comments=comments,
    )
