"""The shop's orders and order lines in the world model: when customers order, which products
(no customer buys a product twice), sizes (bracketing), quantities, discounts, delivery, and
the hesitation each line's purchase carries (decision time, product views, size guide)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from returnlens.demo import world as W
from returnlens.demo.sampling import choice, cum_rows, group_arange, pick
from returnlens.demo.timeline import DAY, HOUR, N_DAYS, T0, T_ASOF, day_calendar
from returnlens.ingest.contracts import CHANNELS

# channel archetypes: an app order's session is on the app, a marketplace order has none
APP, MARKETPLACE = (CHANNELS.index(c) for c in ("app", "marketplace"))


def draw_customers(rng: np.random.Generator, cust: SimpleNamespace, n: int) -> np.ndarray:
    """n customers drawn with their activity weights, in random order."""
    counts = rng.multinomial(n, cust.activity_p)
    out = np.repeat(np.arange(cust.n, dtype=np.int32), counts)
    rng.shuffle(out)
    return out


def _draw_products(rng, cat, it_cat, it_month) -> np.ndarray:
    return choice(cat.demand.prod_cum, it_cat * 12 + it_month, rng.random(len(it_cat)))


def _dedup_products(rng, cat, cust_key, it_cat, it_month, it_prod) -> np.ndarray:
    """Redraw products so no customer buys the same product in two orders (or twice in one).

    This keeps "product views by the customer before the order" an exact, per-line quantity.
    Returns the sorted array of (customer, product) keys.
    """
    n_p = len(cat.p_cat)
    key = cust_key.astype(np.int64) * n_p + it_prod
    order = np.argsort(key)
    ks = key[order]
    dup = np.empty(len(ks), bool)
    dup[0] = False
    np.equal(ks[1:], ks[:-1], out=dup[1:])
    redo = order[dup]
    accepted = ks[~dup]
    extra = np.zeros(0, np.int64)  # keys accepted in later rounds (sorted, small)
    rounds = 0
    while redo.size:
        rounds += 1
        if rounds <= 6:
            it_prod[redo] = _draw_products(rng, cat, it_cat[redo], it_month[redo])
        else:  # a heavy customer has most popular products already: any product will do
            it_prod[redo] = rng.integers(0, n_p, redo.size)
        k = cust_key[redo].astype(np.int64) * n_p + it_prod[redo]
        pos = np.minimum(np.searchsorted(accepted, k), len(accepted) - 1)
        hit = accepted[pos] == k
        if extra.size:
            pos = np.minimum(np.searchsorted(extra, k), len(extra) - 1)
            hit |= extra[pos] == k
        cand, kc = redo[~hit], k[~hit]
        o = np.argsort(kc, kind="stable")
        kcs = kc[o]
        d = np.zeros(len(kcs), bool)
        d[1:] = kcs[1:] == kcs[:-1]
        ok = kcs[~d]
        extra = np.sort(np.concatenate([extra, ok]))
        redo = np.sort(np.concatenate([redo[hit], cand[o][d]]))
    return np.sort(np.concatenate([accepted, extra])) if extra.size else accepted


def orders(rng: np.random.Generator, cat: SimpleNamespace, cust: SimpleNamespace):
    shape = cat.shape
    archs = shape.category_archetypes
    dm = cat.demand
    n_o = dm.n_orders
    counts = rng.multinomial(n_o, dm.day_weight / dm.day_weight.sum())
    day = np.repeat(np.arange(N_DAYS), counts)
    hour = pick(rng, W.HOUR_DEMAND, n_o)
    ts = np.sort(T0 + day * DAY + hour * HOUR + rng.integers(0, HOUR, n_o))
    del hour  # here and below: temporaries of the orders', items' or lines' length (memory)
    day = (ts - T0) // DAY
    cal_month = day_calendar(np.arange(N_DAYS))[1][day]
    customer = draw_customers(rng, cust, n_o)
    channel = pick(rng, shape.channel_share, n_o)
    ddays = W.DELIVERY_DAYS[0][pick(rng, W.DELIVERY_DAYS[1], n_o)]
    delivered = (ts // DAY + ddays) * DAY + rng.integers(9 * HOUR, 21 * HOUR, n_o)
    shipped = ts + ((delivered - ts) * rng.uniform(0.15, 0.55, n_o)).astype(np.int64)
    delivered = np.where(rng.random(n_o) < W.LOST_PARCEL_SHARE, -1, delivered)
    delivered = np.where(delivered > T_ASOF, -1, delivered)
    shipped = np.where(shipped > T_ASOF, -1, shipped)

    # created_at: before the first order
    first = np.full(cust.n, np.iinfo(np.int64).max)
    np.minimum.at(first, customer, ts)
    has = first < np.iinfo(np.int64).max
    lead = rng.integers(HOUR, 120 * DAY, cust.n)
    cust.created = np.where(has, np.minimum(cust.signup, first - lead), cust.signup)
    cust.created = np.minimum(cust.created, T_ASOF - DAY)

    # items: distinct products of an order
    n_items = 1 + np.minimum(rng.poisson(W.EXTRA_ITEMS_LAMBDA, n_o), 4)
    it_order = np.repeat(np.arange(n_o), n_items)
    n_it = len(it_order)
    it_month = cal_month[it_order]
    it_cat = choice(dm.mix_cum, it_month, rng.random(n_it))
    it_prod = _draw_products(rng, cat, it_cat, it_month)
    purchased = _dedup_products(rng, cat, customer[it_order], it_cat, it_month, it_prod)
    it_cat = cat.p_cat[it_prod]
    sized = np.isin(it_cat, shape.of("apparel") + shape.of("shoes"))
    bracket = sized & (rng.random(n_it) < W.BRACKET_PROB)
    k = np.where(bracket, W.BRACKET_SIZES[0][pick(rng, W.BRACKET_SIZES[1], n_it)], 1)
    size_cum = np.zeros((3, 11))
    size_cum[0, :6] = W.SIZE_PROBS["apparel"]
    size_cum[1] = W.SIZE_PROBS["shoes"]
    size_cum[2, 0] = 1.0
    size_row = np.where(
        np.isin(it_cat, shape.of("apparel")), 0, np.where(np.isin(it_cat, shape.of("shoes")), 1, 2)
    )
    base_size = choice(cum_rows(size_cum), size_row, rng.random(n_it))
    nsize = cat.p_nsize[it_prod]
    start = np.clip(base_size - rng.integers(0, k), 0, nsize - k)
    colour = (rng.random(n_it) * cat.p_ncol[it_prod]).astype(np.int64)

    # hesitation features per item
    mu = np.array([W.LOGD_MU[a] for a in archs])[it_cat]
    logd = rng.normal(mu, W.LOGD_SD)
    d_s = np.clip(np.round(60 * 10**logd), W.DECISION_MIN_S, W.DECISION_MAX_S).astype(np.int64)
    logd = np.log10(d_s / 60)
    lam = np.maximum(W.VIEW_LAMBDA[0] + W.VIEW_LAMBDA[1] * logd, 0.05)
    views = 1 + np.minimum(rng.poisson(lam), W.VIEW_CAP - 1)
    del mu, lam, it_month, size_row, base_size, nsize
    size_guide = sized & (rng.random(n_it) < W.SIZE_GUIDE_PROB)
    web = shape.channel_arch[channel[it_order]] != MARKETPLACE
    size_guide &= web

    # lines
    ln_item = np.repeat(np.arange(n_it), k)
    n_l = len(ln_item)
    j = group_arange(k)
    ln_prod = it_prod[ln_item]
    ln_order = it_order[ln_item]
    ln_sku = cat.p_off[ln_prod] + (start[ln_item] + j) * cat.p_ncol[ln_prod] + colour[ln_item]
    del j, start, colour
    lines_per_order = np.bincount(ln_order, minlength=n_o)
    first_line = np.cumsum(lines_per_order) - lines_per_order
    ln_number = np.arange(n_l) - first_line[ln_order] + 1
    ln_cat = it_cat[ln_item]
    q_cum = np.zeros((len(archs), 4))
    q_val = np.zeros((len(archs), 4), np.int64)
    for c, a in enumerate(archs):
        q, qp = W.QUANTITY[a]
        q_cum[c, : len(q)] = qp
        q_val[c, : len(q)] = q
    qty = q_val[ln_cat, choice(cum_rows(q_cum), ln_cat, rng.random(n_l))]
    if shape.bulk_share:  # a shop allowing larger quantities has bulk lines (log-uniform)
        bulk = rng.random(n_l) < shape.bulk_share
        hi = math.log(shape.max_quantity + 1)
        bulk_q = np.floor(np.exp(rng.uniform(math.log(2), hi, n_l))).astype(np.int64)
        qty = np.where(bulk, bulk_q, qty)
    qty = np.where(bracket[ln_item], 1, qty)
    unit_c = cat.p_price[ln_prod]
    if shape.max_quantity is not None:
        qty = np.minimum(qty, shape.max_quantity)
    if shape.max_order_total_c is not None:  # every line within its share of the order limit
        line_cap = shape.max_order_total_c // lines_per_order[ln_order]
        qty = np.minimum(qty, np.maximum(1, line_cap // unit_c))
    ln_month = cal_month[ln_order]
    has_disc = rng.random(n_l) < W.DISCOUNT_PROB_BY_MONTH[ln_month]
    pct = W.DISCOUNT_PCTS[rng.integers(0, len(W.DISCOUNT_PCTS), n_l)]
    disc_c = np.where(has_disc, np.round(qty * unit_c * pct), 0).astype(np.int64)
    del has_disc, pct
    net_c = qty * unit_c - disc_c
    total_c = np.bincount(ln_order, weights=net_c, minlength=n_o).round().astype(np.int64)
    day_l = day[ln_order]
    batch = cat.b_table[ln_prod, day_l]

    return SimpleNamespace(
        n=n_o,
        ts=ts,
        day=day,
        cal_month=cal_month,
        customer=customer,
        channel=channel,
        shipped=shipped,
        delivered=delivered,
        ddays=ddays,
        total_c=total_c,
        it_order=it_order,
        it_prod=it_prod,
        it_cat=it_cat,
        it_k=k,
        it_bracket=bracket,
        it_d=d_s,
        it_logd=logd,
        it_views=views,
        it_sg=size_guide,
        it_web=web,
        it_first_line=np.cumsum(k) - k,
        purchased=purchased,
        ln_item=ln_item,
        ln_order=ln_order,
        ln_prod=ln_prod,
        ln_cat=ln_cat,
        ln_sku=ln_sku,
        ln_number=ln_number,
        ln_qty=qty,
        ln_unit=unit_c,
        ln_disc=disc_c,
        ln_net=net_c,
        ln_batch=batch,
        ln_month=ln_month,
    )
