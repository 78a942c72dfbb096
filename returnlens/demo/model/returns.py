"""Returns in the world model: the return probability of every order line (category rates,
hesitation, bracketing, season, supplier, product and batch effects, abusers), the reason mix
of each kind of line, and the returns drawn from them (RMAs, lines, reasons, condition,
disposition, refunds and their timing)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from returnlens.demo import world as W
from returnlens.demo.sampling import choice, cum_rows, pick, sigmoid
from returnlens.demo.shape import Shape
from returnlens.demo.timeline import DAY, HOUR, T_ASOF
from returnlens.ingest.contracts import CONDITION_GRADES, DISPOSITIONS, REASON_CODES, RESOLUTIONS

RES = {r: i for i, r in enumerate(RESOLUTIONS)}
COND = {c: i for i, c in enumerate(CONDITION_GRADES)}
DISP = {d: i for i, d in enumerate(DISPOSITIONS)}


def reason_profiles(shape: Shape) -> np.ndarray:
    """Reason mix per profile: category*32 + bracket*16 + small*8 + fragile*4 + defect*2 + abuser."""
    probs = np.zeros((len(shape.categories) * 32, len(REASON_CODES)))
    for ci, c in enumerate(shape.category_archetypes):
        for flags in range(32):
            br, sm, fr, de, ab = ((flags >> s) & 1 for s in (4, 3, 2, 1, 0))
            p = np.array(W.REASON_MIX[c], float)
            if br:
                p[[W.R["SIZE_TOO_SMALL"], W.R["SIZE_TOO_LARGE"]]] *= W.BRACKET_SIZE_WEIGHT
            if sm:
                p[W.R["SIZE_TOO_SMALL"]] *= W.SMALL_SIZING_TOO_SMALL_WEIGHT
            if fr:
                p[W.R["DAMAGED_IN_TRANSIT"]] *= W.FRAGILE_DAMAGE_WEIGHT
            if ab:
                for code, f in W.ABUSER_REASON_WEIGHT.items():
                    p[W.R[code]] *= f
            p = p / p.sum()
            if de:
                d = np.zeros(len(REASON_CODES))
                for code, f in W.DEFECT_REASONS.items():
                    d[W.R[code]] = f
                p = (1 - W.DEFECT_REASON_SHARE) * p + W.DEFECT_REASON_SHARE * d
            probs[ci * 32 + flags] = p
    return probs


def line_model(cat, cust, od) -> SimpleNamespace:
    """Return probability per line: logistic(category intercept + effects), calibrated."""
    archs = cat.shape.category_archetypes
    item_x = np.where(
        od.it_web,
        W.BETA["log10_decision_minutes"]
        * (od.it_logd - np.array([W.LOGD_MU[a] for a in archs])[od.it_cat])
        + W.BETA["extra_views"] * (od.it_views - 1)
        + W.BETA["size_guide"] * od.it_sg,
        0.0,
    )
    # without planted signals, product, supplier, batch and season effects are off: a line's
    # return depends on its category and the customer's behaviour only
    season = np.zeros((len(archs), 12))
    for c, a in enumerate(archs):
        if a in W.RETURN_SEASON:
            season[c] = W.RETURN_SEASON[a] if cat.plant else 0.0
    defect = cat.b_defect[od.ln_batch]
    fragile = cat.p_fragile[od.ln_prod]
    planted_fragile = fragile & cat.plant
    sup = cat.p_sup[od.ln_prod]
    bracket = od.it_bracket[od.ln_item]
    x = (
        item_x[od.ln_item]
        + W.BETA["bracketing"] * bracket
        + season[od.ln_cat, od.ln_month]
        + cat.sup_effect[sup]
        + W.BETA["fragile"] * planted_fragile
        + W.BETA["premium"] * (cat.p_premium[od.ln_prod] & cat.plant)
        + W.DEFECTIVE_BATCH_LOGIT * defect
    )
    abuser = cust.abuser[od.customer[od.ln_order]]
    intercept = np.zeros(len(archs))
    sub = slice(0, 400_000)
    for ci, c in enumerate(archs):
        m = (od.ln_cat[sub] == ci) & ~abuser[sub]
        xs = x[sub][m]
        a = math.log(W.BASE_RETURN_RATE[c] / (1 - W.BASE_RETURN_RATE[c]))
        for _ in range(8):
            s = sigmoid(a + xs)
            a -= (s.mean() - W.BASE_RETURN_RATE[c]) / max((s * (1 - s)).mean(), 1e-9)
        intercept[ci] = a
    p = sigmoid(intercept[od.ln_cat] + x)
    p = np.where(abuser, W.ABUSER_RETURN_PROB, p)
    small = cat.sup_small[sup]
    profile = (
        od.ln_cat * 32 + bracket * 16 + small * 8 + planted_fragile * 4 + defect * 2 + abuser
    ).astype(np.int64)
    return SimpleNamespace(
        p=p,
        intercept=intercept,
        profile=profile,
        abuser=abuser,
        defect=defect,
        fragile=fragile,
        small=small,
        bracket=bracket,
        sup=sup,
    )


def returns(rng, cat, cust, od, lm) -> SimpleNamespace:
    n_l = len(od.ln_item)
    delivered = od.delivered[od.ln_order]
    returned = (rng.random(n_l) < lm.p) & (delivered >= 0)
    qty = od.ln_qty
    q_r = np.where(
        (qty == 1) | (rng.random(n_l) < 0.6),
        qty,
        1 + (rng.random(n_l) * (qty - 1)).astype(np.int64),
    )
    if cat.shape.max_refund_c is not None:  # the refund of the returned units within the limit
        q_r = np.minimum(q_r, np.maximum(1, cat.shape.max_refund_c * qty // od.ln_net))
    # one RMA per order with returned lines
    rma_order = np.flatnonzero(np.bincount(od.ln_order[returned], minlength=od.n) > 0)
    n_r = len(rma_order)
    abuser = cust.abuser[od.customer[rma_order]]
    window = cat.shape.return_window_days
    gamma_scale = W.REQUEST_DELAY_GAMMA[1] * window / W.RETURN_WINDOW_DAYS
    delay = np.minimum(rng.gamma(W.REQUEST_DELAY_GAMMA[0], gamma_scale, n_r), float(window))
    delay = np.where(abuser, rng.uniform(0, W.ABUSER_REQUEST_DELAY_DAYS, n_r), delay)
    requested = od.delivered[rma_order] + np.minimum((delay * DAY).astype(np.int64), window * DAY)
    keep = requested <= T_ASOF
    rma_order, requested, abuser = rma_order[keep], requested[keep], abuser[keep]
    o = np.argsort(requested, kind="stable")
    rma_order, requested, abuser = rma_order[o], requested[o], abuser[o]
    n_r = len(rma_order)
    res = pick(rng, W.RESOLUTION_SHARE, n_r)
    res_ab = np.where(rng.random(n_r) < 0.9, RES["refund"], RES["store_credit"])
    res = np.where(abuser, res_ab, res)
    recv_days = W.RECEIVE_DAYS[0] + np.minimum(rng.gamma(2.0, 1.0, n_r), W.RECEIVE_DAYS[1] - 2)
    received = requested + (recv_days * DAY).astype(np.int64)
    inspected = received + (np.minimum(rng.gamma(1.2, 1.2, n_r), W.INSPECT_MAX_DAYS) * DAY).astype(
        np.int64
    )
    slow = rng.random(n_r) < W.SLOW_REFUND_SHARE
    refund_days = np.where(
        slow,
        rng.uniform(*W.SLOW_REFUND_DAYS_RANGE, n_r),
        np.minimum(rng.exponential(1.5, n_r), W.REFUND_MAX_DAYS),
    )
    refunded = inspected + (refund_days * DAY).astype(np.int64)
    keep_it = res == RES["keep_it"]
    received = np.where(keep_it, -1, received)
    inspected = np.where(keep_it, -1, inspected)
    refunded = np.where(keep_it, requested + rng.integers(HOUR, 3 * DAY, n_r), refunded)
    refunded = np.where(res == RES["exchange"], -1, refunded)
    # still in progress at the extract
    late_recv = received > T_ASOF
    received = np.where(late_recv, -1, received)
    inspected = np.where(late_recv | (inspected > T_ASOF), -1, inspected)
    refunded = np.where((~keep_it & (inspected < 0)) | (refunded > T_ASOF), -1, refunded)

    # returned lines of kept RMAs, sorted by (rma, line)
    rma_of_order = np.full(od.n, -1)
    rma_of_order[rma_order] = np.arange(n_r)
    rl = np.flatnonzero(returned)
    rl_rma = rma_of_order[od.ln_order[rl]]
    rl = rl[rl_rma >= 0]
    rl_rma = rl_rma[rl_rma >= 0]
    o = np.argsort(rl_rma, kind="stable")
    rl, rl_rma = rl[o], rl_rma[o]
    n_rl = len(rl)
    reason = choice(cum_rows(reason_profiles(cat.shape)), lm.profile[rl], rng.random(n_rl))
    texts = [t for code in REASON_CODES for t in W.REASON_TEXTS[code]]
    t_n = np.array([len(W.REASON_TEXTS[code]) for code in REASON_CODES])
    t_off = np.cumsum(t_n) - t_n
    text = t_off[reason] + (rng.random(n_rl) * t_n[reason]).astype(np.int64)
    text = np.where(rng.random(n_rl) < W.REASON_TEXT_EMPTY, -1, text)
    cond_rows = np.zeros((3, len(CONDITION_GRADES)))
    for i, mix in enumerate((W.CONDITION_NORMAL, W.CONDITION_DAMAGE, W.CONDITION_ABUSER)):
        for g, f in mix.items():
            cond_rows[i, COND[g]] = f
    damage = np.isin(reason, [W.R["DEFECTIVE"], W.R["DAMAGED_IN_TRANSIT"]])
    rl_abuser = lm.abuser[rl]
    cond = choice(
        cum_rows(cond_rows), np.where(rl_abuser, 2, np.where(damage, 1, 0)), rng.random(n_rl)
    )
    disp_rows = np.zeros((6, len(DISPOSITIONS)))
    disp_rows[0, DISP["restock"]] = 1
    disp_rows[1, [DISP["restock"], DISP["refurbish"]]] = (0.8, 0.2)
    disp_rows[2, [DISP["liquidate"], DISP["refurbish"]]] = (0.6, 0.4)
    disp_rows[3, [DISP["return_to_supplier"], DISP["refurbish"]]] = (0.8, 0.2)
    disp_rows[4, [DISP["destroy"], DISP["refurbish"]]] = (0.7, 0.3)
    disp_rows[5, DISP["destroy"]] = 1
    disp_row = np.select(
        [
            cond == COND["as_new"],
            cond == COND["opened"],
            cond == COND["worn"],
            (cond == COND["damaged"]) & (reason == W.R["DEFECTIVE"]),
            cond == COND["damaged"],
        ],
        [0, 1, 2, 3, 4],
        5,
    )
    disp = choice(cum_rows(disp_rows), disp_row, rng.random(n_rl))
    inspected_l = inspected[rl_rma]
    cond = np.where(inspected_l < 0, -1, cond)
    disp = np.where(inspected_l < 0, -1, disp)
    qr = q_r[rl]
    q = qty[rl]
    net_r = (qr * od.ln_net[rl] * 2 + q) // (2 * q)  # net value of the returned units, cents
    res_l = res[rl_rma]
    refund_c = np.where(
        res_l == RES["exchange"], 0, np.where(refunded[rl_rma] >= 0, net_r, -1)
    ).astype(np.int64)
    return SimpleNamespace(
        returned=returned,
        q_r=q_r,
        n_rma=n_r,
        rma_order=rma_order,
        requested=requested,
        received=received,
        inspected=inspected,
        refunded=refunded,
        resolution=res,
        rma_abuser=abuser,
        rl=rl,
        rl_rma=rl_rma,
        qty=qr,
        reason=reason,
        text=text,
        texts=texts,
        condition=cond,
        disposition=disp,
        refund_c=refund_c,
    )
