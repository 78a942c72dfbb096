"""Web tracking in the world model: sessions and their events, consistent with the hesitation
drawn for each order line (views and size-guide views before the purchase, research sessions
for long decisions), plus browse-only sessions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from returnlens.demo import world as W
from returnlens.demo.model.orders import APP, MARKETPLACE, draw_customers
from returnlens.demo.sampling import group_arange, pick
from returnlens.demo.timeline import EXT_LO, HOUR, N_DAYS, T0, T_END
from returnlens.ingest.contracts import EVENT_TYPES

EV = {e: i for i, e in enumerate(EVENT_TYPES)}


# the orders model's arrays only the sessions read: `sessions` drops them from `od` once read
CONSUMED = ("it_order", "it_prod", "it_k", "it_d", "it_views", "it_sg", "it_web", "it_first_line")
CONSUMED += ("ln_sku", "purchased")


def sessions(rng, cat, cust, od) -> SimpleNamespace:
    """Sessions and events consistent with the drawn hesitation features.

    Drops the orders model's item arrays (`CONSUMED`) from `od` once read: nothing after the
    sessions needs them, and they are ~0.6 GB at 10M order lines."""
    web_o = np.flatnonzero(cat.shape.channel_arch[od.channel] != MARKETPLACE)
    n_w = len(web_o)
    wi = np.flatnonzero(od.it_web)
    o_w = od.it_order[wi]  # sorted
    starts = np.flatnonzero(np.r_[True, o_w[1:] != o_w[:-1]])
    ts_i = od.ts[o_w]
    d = od.it_d[wi]
    n = od.it_views[wi]
    long = d > W.SESSION_SPAN_S
    u = rng.integers(120, 1200, len(wi))
    m = np.where(long, (n >= 2).astype(np.int64), n)  # views inside the purchase session
    s_first = np.where(long, u, d)
    s_last = np.where(long, u, d // n)
    sku0 = od.ln_sku[od.it_first_line[wi]]
    span = np.maximum.reduceat(s_first, starts) + 30
    del s_first
    ts_o = od.ts[web_o]
    sess_p_start = ts_o - span

    # purchase-session composition
    v_o = np.add.reduceat(m, starts)
    g_o = np.add.reduceat(od.it_sg[wi].astype(np.int64), starts)
    k_i = od.it_k[wi]
    l_o = np.add.reduceat(k_i, starts)
    rm = rng.random(n_w) < W.REMOVE_FROM_CART_PROB
    rm_o = 2 * rm
    nev_p = 1 + v_o + g_o + l_o + rm_o + 2
    del rm_o
    # what the events still read of the item arrays; then `od` gives them up (see docstring)
    sg_w = od.it_sg[wi]
    first_line_w = od.it_first_line[wi]
    prod_rm = od.it_prod[wi[starts[np.flatnonzero(rm)]]]
    ln_sku, purchased = od.ln_sku, od.purchased
    for name in CONSUMED:
        delattr(od, name)

    # research sessions: one per long decision, views start at ordered_at - decision time
    li = np.flatnonzero(long)
    r_views = np.maximum(n[li] - 1, 1)
    t0 = ts_i[li] - d[li]
    sess_r_start = t0 - rng.integers(5, 120, len(li))
    nev_r = 1 + r_views

    # browse-only sessions
    n_b = round(W.BROWSE_SESSIONS_PER_WEB_ORDER * n_w)
    b_start = np.sort(rng.integers(T0, T_END - HOUR, n_b))
    b_known = rng.random(n_b) < 0.7
    b_cust = draw_customers(rng, cust, n_b)
    b_views = 1 + np.minimum(rng.poisson(0.8, n_b), 5)
    b_atc = rng.random(n_b) < 0.1
    units = cat.demand.units_pd[:, -EXT_LO : -EXT_LO + N_DAYS].sum(1)
    sku_w = units[cat.s_prod] * cat.s_size_prob
    bv_sess = np.repeat(np.arange(n_b), b_views)
    bv_j = group_arange(b_views)
    bv_sku = np.searchsorted(np.cumsum(sku_w) / sku_w.sum(), rng.random(len(bv_sess)), "right")
    bv_sku = np.minimum(bv_sku, len(sku_w) - 1)
    known_v = np.flatnonzero(b_known[bv_sess])
    key = b_cust[bv_sess[known_v]].astype(np.int64) * len(cat.p_cat) + cat.s_prod[bv_sku[known_v]]
    o = np.argsort(key)
    key = key[o]
    pos = np.minimum(np.searchsorted(purchased, key), len(purchased) - 1)
    clash = np.bincount(bv_sess[known_v[o[purchased[pos] == key]]], minlength=n_b) > 0
    del known_v, key, o, pos, units, sku_w, purchased
    b_cust = np.where(b_known & ~clash, b_cust, -1)
    nev_b = 1 + b_views + b_atc

    # sessions in start-time order
    n_s = n_w + len(li) + n_b
    s_start = np.concatenate([sess_p_start, sess_r_start, b_start])
    s_nev = np.concatenate([nev_p, nev_r, nev_b])
    s_cust = np.concatenate([od.customer[web_o], od.customer[o_w[li]], b_cust])
    app = np.concatenate(
        [cat.shape.channel_arch[od.channel[web_o]] == APP, np.zeros(len(li) + n_b, bool)]
    )
    dev_web = pick(rng, W.DEVICE_SHARE_WEB, n_s)
    dev_app = pick(rng, W.DEVICE_SHARE_APP, n_s)
    s_dev = np.where(app, dev_app, dev_web).astype(np.int8)
    del app, dev_app, dev_web, o_w
    s_traffic = pick(rng, W.TRAFFIC_SHARE, n_s).astype(np.int8)
    rank_order = np.argsort(s_start, kind="stable")
    # what is returned per session in start order, taken now so the rest can go
    sess_start_sorted = s_start[rank_order]
    sess_cust_sorted = s_cust[rank_order].astype(np.int32)
    sess_dev_sorted, sess_traffic_sorted = s_dev[rank_order], s_traffic[rank_order]
    del s_start, s_cust, s_dev, s_traffic
    nev_sorted = s_nev[rank_order]
    off_sorted = np.cumsum(nev_sorted) - nev_sorted
    s_off = np.empty(n_s, np.int64)
    s_off[rank_order] = off_sorted
    n_ev = int(nev_sorted.sum())
    session_id = np.empty(n_s, np.int64)
    session_id[rank_order] = np.arange(n_s)
    order_session = session_id[:n_w].copy()
    del s_nev, nev_sorted, rank_order, session_id
    # epoch seconds of 2025-2026 fit 32 bits: half the memory of the largest array
    ev_ts = np.empty(n_ev, np.int32)
    ev_type = np.empty(n_ev, np.int8)
    ev_sku = np.full(n_ev, -1, np.int32)

    def put(pos, t, etype, sku=None):
        ev_ts[pos] = t
        ev_type[pos] = etype
        if sku is not None:
            ev_sku[pos] = sku

    # purchase sessions (session index = web order rank)
    base = s_off[:n_w]
    put(base, sess_p_start, EV["session_start"])
    rep = np.repeat(np.arange(len(wi)), m)
    j = group_arange(m)
    o_of_item = np.repeat(np.arange(n_w), np.diff(np.r_[starts, len(wi)]))
    local = group_arange(v_o)
    # ts - d + d * j // n (a long decision: ts - u), in place: integers, the same values
    d_r = d[rep]
    t = d_r * j
    t //= n[rep]
    t -= d_r
    del d_r
    t += ts_i[rep]
    lng = long[rep]
    t[lng] = ts_i[rep[lng]] - u[rep[lng]]
    del lng
    put(base[o_of_item[rep]] + 1 + local, t, EV["product_view"], sku0[rep])
    del rep, j, local, t
    sg = np.flatnonzero(sg_w)
    local = group_arange(g_o)
    t = ts_i[sg] - np.maximum(2, s_last[sg] * 6 // 10)
    put(base[o_of_item[sg]] + 1 + v_o[o_of_item[sg]] + local, t, EV["size_guide_view"], sku0[sg])
    lrep = np.repeat(np.arange(len(wi)), k_i)
    jl = group_arange(k_i)
    local = group_arange(l_o)
    lines = first_line_w[lrep] + jl
    t = ts_i[lrep] - np.maximum(6, s_last[lrep] // 2) + jl
    oo = o_of_item[lrep]
    put(base[oo] + 1 + v_o[oo] + g_o[oo] + local, t, EV["add_to_cart"], ln_sku[lines])
    del lrep, jl, local, lines, t, oo, ln_sku, first_line_w, sg_w
    r_o = np.flatnonzero(rm)
    first_item = starts[r_o]
    p = prod_rm
    alt = cat.p_off[p] + (rng.random(len(r_o)) * cat.p_nsku[p]).astype(np.int64)
    t = ts_o[r_o] - np.maximum(6, s_last[first_item] // 2) - 3
    at = base[r_o] + 1 + v_o[r_o] + g_o[r_o] + l_o[r_o]
    put(at, t, EV["add_to_cart"], alt)
    put(at + 1, t + 2, EV["remove_from_cart"], alt)
    end = base + nev_p
    put(end - 2, ts_o - 2, EV["checkout"])
    put(end - 1, ts_o, EV["purchase"])

    del ts_i, d, n, long, u, m, o_of_item, v_o, g_o, l_o, k_i, sg
    # research sessions
    base = s_off[n_w : n_w + len(li)]
    put(base, sess_r_start, EV["session_start"])
    rep = np.repeat(np.arange(len(li)), r_views)
    j = group_arange(r_views)
    put(base[rep] + 1 + j, t0[rep] + 90 * j, EV["product_view"], sku0[li][rep])
    del rep, j, sku0

    # browse sessions
    base = s_off[n_w + len(li) :]
    put(base, b_start, EV["session_start"])
    bv_t = b_start[bv_sess] + 20 + 60 * bv_j + rng.integers(0, 40, len(bv_sess))
    put(base[bv_sess] + 1 + bv_j, bv_t, EV["product_view"], bv_sku)
    ba = np.flatnonzero(b_atc)
    last_view = np.cumsum(b_views)[ba] - 1
    put(base[ba] + 1 + b_views[ba], bv_t[last_view] + 30, EV["add_to_cart"], bv_sku[last_view])

    return SimpleNamespace(
        n_sessions=n_s,
        n_events=n_ev,
        web_orders=web_o,
        order_session=order_session,
        ev_ts=ev_ts,
        ev_type=ev_type,
        ev_sku=ev_sku,
        # per session in start order; an event's session is found from its offset when written
        # (`returnlens.demo.sources.web`): four arrays of the events' length fewer in memory
        sess_cust_sorted=sess_cust_sorted,
        sess_dev_sorted=sess_dev_sorted,
        sess_traffic_sorted=sess_traffic_sorted,
        sess_start_sorted=sess_start_sorted,
        sess_off_sorted=off_sorted,
    )
