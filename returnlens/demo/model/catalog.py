"""The shop's catalogue in the world model: products and their skus (size x colour), and the
expected demand per product and day that orders are drawn from and forecasts are built from.

The suppliers come first (`purchasing.draw_suppliers`) and the production batches last
(`purchasing.batches`, sized on the expected demand), all from the catalogue's generator, in
that order.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from faker.providers.person.nl_NL import Provider as PersonNL

from returnlens.demo import world as W
from returnlens.demo.model import purchasing
from returnlens.demo.sampling import cum_rows, poisson_capped_mean
from returnlens.demo.shape import Shape, bulk_mean
from returnlens.demo.timeline import DAY0, EXT_HI, EXT_LO, N_DAYS, day_calendar

SIZED_ARCHETYPES = ("apparel", "shoes")


def demand_model(cat: SimpleNamespace, scale: float) -> SimpleNamespace:
    """Expected demand: the intensity orders are drawn from, and forecasts are built from."""
    shape = cat.shape
    n_cat = len(shape.categories)
    n_orders = max(100, round(W.ORDERS_PER_SCALE * scale))
    days = np.arange(EXT_LO, EXT_HI)
    w, month = day_calendar(days)
    if shape.closed_weekdays or shape.closed_dates:  # no orders on the days the shop is closed
        w = np.where(shape.closed_day_mask(DAY0 + days), 0.0, w)
    in_period = (days >= 0) & (days < N_DAYS)
    orders_per_day = n_orders * w / w[in_period].sum()
    share = shape.category_share
    season = np.array([W.CATEGORY_SEASON[a] for a in shape.category_archetypes])  # C x 12
    mix = share[:, None] * season
    mix = mix / mix.sum(axis=0, keepdims=True)  # P(category | month)
    sub_season = np.ones((len(shape.subcategories), 12))
    for i, sub in enumerate(shape.subcategories):
        if sub[2][1] in W.SUBCATEGORY_SEASON:
            sub_season[i] = W.SUBCATEGORY_SEASON[sub[2][1]]
    pw = cat.p_pop[:, None] * sub_season[cat.p_sub]  # P x 12
    prod_prob = np.zeros_like(pw)
    for c in range(n_cat):
        m = cat.p_cat == c
        prod_prob[m] = pw[m] / pw[m].sum(axis=0, keepdims=True)  # P(product | category, month)
    # cumulative tables per (category, month) row over all products, for drawing
    rows = np.zeros((n_cat * 12, len(cat.p_cat)))
    for c in range(n_cat):
        for mo in range(12):
            rows[c * 12 + mo] = np.where(cat.p_cat == c, prod_prob[:, mo], 0.0)
    e_items = 1 + poisson_capped_mean(W.EXTRA_ITEMS_LAMBDA, 4)
    e_k = float((W.BRACKET_SIZES[0] * W.BRACKET_SIZES[1]).sum())
    units_item = np.zeros(n_cat)
    for c, a in enumerate(shape.category_archetypes):
        q, qp = W.QUANTITY[a]
        e_qty = float((q * qp).sum())
        if shape.bulk_share:
            e_qty = (1 - shape.bulk_share) * e_qty + shape.bulk_share * bulk_mean(
                shape.max_quantity
            )
        b = W.BRACKET_PROB if a in SIZED_ARCHETYPES else 0.0
        units_item[c] = (1 - b) * e_qty + b * e_k
    # expected gross units per product and day: P x days
    units_pd = (
        orders_per_day[None, :]
        * e_items
        * mix[cat.p_cat][:, month]
        * prod_prob[:, month]
        * units_item[cat.p_cat][:, None]
    )
    return SimpleNamespace(
        n_orders=n_orders,
        day_weight=w[in_period],
        mix_cum=cum_rows(mix.T),  # 12 x 5
        prod_cum=cum_rows(rows),
        units_pd=units_pd,
        ext_days=days,
    )


def catalog(
    rng: np.random.Generator,
    scale: float,
    suppliers: int | None = None,
    plant: bool = True,
    shape: Shape | None = None,
) -> SimpleNamespace:
    shape = shape or Shape()
    archs = shape.category_archetypes
    supply = purchasing.draw_suppliers(rng, suppliers, plant, shape)
    per_category, custom, sup_cat, n_sup = (
        supply.per_category,
        supply.custom,
        supply.sup_cat,
        supply.n_sup,
    )

    # products
    p_cat, p_sub, p_sup, p_price, p_cost, p_weight, p_pop, p_ncol = ([] for _ in range(8))
    p_code, p_name, p_cols = [], [], []
    model_names = PersonNL.first_names_female + PersonNL.first_names_male
    num = 0
    products_of = {
        i: sum(s[3] for s in shape.subcategories if s[0] == i) for i in range(len(archs))
    }
    for s_i, (ci, _label, row, n) in enumerate(shape.subcategories):
        c = archs[ci]
        med, sigma, wg, nouns = row[3:]
        if custom:  # enough products for the category's suppliers, same subcategory mix
            wanted = (
                W.MIN_PRODUCTS_PER_SUPPLIER * per_category[shape.categories[ci]] / products_of[ci]
            )
            n = max(n, round(n * wanted))
        price = med * np.exp(rng.normal(0, sigma, n))
        if shape.price_scale != 1.0:
            price = price * shape.price_scale
        price_c = np.maximum(np.round(price) * 100 - 5, 95).astype(np.int64)
        if shape.max_list_price_c is not None:
            price_c = np.minimum(price_c, shape.max_list_price_c)
        if shape.min_list_price_c is not None:
            price_c = np.maximum(price_c, shape.min_list_price_c)
        cost_c = np.round(price_c * rng.uniform(0.3, 0.55, n)).astype(np.int64)
        weight = np.round(wg * np.exp(rng.normal(0, 0.25, n))).astype(np.int64)
        pop = np.exp(rng.normal(0, 1.0, n))
        ncol = rng.integers(1, W.MAX_COLOURS[c] + 1, n)
        sups = np.flatnonzero(sup_cat == ci)
        sup = sups[rng.integers(0, len(sups), n)]
        for j in range(n):
            num += 1
            p_code.append(f"{shape.sku_prefixes[ci]}{num:05d}")
            adj = W.ADJECTIVES[int(rng.integers(len(W.ADJECTIVES)))]
            noun = nouns[int(rng.integers(len(nouns)))]
            model = model_names[int(rng.integers(len(model_names)))]
            p_name.append(f"{adj} {noun} {model}")
            p_cols.append(rng.permutation(len(W.COLOURS))[: ncol[j]])
        p_cat += [ci] * n
        p_sub += [s_i] * n
        p_sup += list(sup)
        p_price += list(price_c)
        p_cost += list(cost_c)
        p_weight += list(weight)
        p_pop += list(pop)
        p_ncol += list(ncol)
    p_cat = np.array(p_cat, np.int64)
    p_sub = np.array(p_sub, np.int64)
    p_ncol = np.array(p_ncol, np.int64)
    p_sup = np.array(p_sup, np.int64)
    if custom:  # every supplier sells at least one product of its category
        for ci in range(len(archs)):
            prods = rng.permutation(np.flatnonzero(p_cat == ci))
            sups = np.flatnonzero(sup_cat == ci)
            p_sup[prods[: len(sups)]] = sups
    n_sizes = np.array([len(W.SIZES.get(a, (W.ONE_SIZE,))) for a in archs], np.int64)
    p_nsize = n_sizes[p_cat]
    p_nsku = p_nsize * p_ncol
    p_off = np.cumsum(p_nsku) - p_nsku
    fragile_subs = [
        i for i, s in enumerate(shape.subcategories) if s[2][1] in W.FRAGILE_SUBCATEGORIES
    ]
    p_price = np.array(p_price, np.int64)

    # skus: product x size x colour, index = offset + size * n_colours + colour
    s_prod, s_size, s_col, sku_code, s_size_prob = [], [], [], [], []
    for p in range(len(p_cat)):
        c = archs[p_cat[p]]
        sizes = W.SIZES.get(c, (W.ONE_SIZE,))
        probs = W.SIZE_PROBS.get(c, np.ones(1))
        for si, size in enumerate(sizes):
            for col in p_cols[p]:
                s_prod.append(p)
                s_size.append(si)
                s_col.append(int(col))
                label = "OS" if size == W.ONE_SIZE else size
                sku_code.append(f"{p_code[p]}-{label}-{W.COLOURS[col][0]}")
                s_size_prob.append(probs[si] / p_ncol[p])
    cat = SimpleNamespace(
        n_sup=n_sup,
        sup_cat=sup_cat,
        sup_names=supply.sup_names,
        sup_country=supply.sup_country,
        sup_lead=supply.sup_lead,
        sup_effect=supply.sup_effect,
        sup_small=supply.sup_small,
        sup_ids=supply.sup_ids,
        p_code=p_code,
        p_name=p_name,
        p_cat=p_cat,
        p_sub=p_sub,
        p_sup=p_sup,
        p_price=p_price,
        p_cost=np.array(p_cost, np.int64),
        p_weight=np.array(p_weight, np.int64),
        p_pop=np.array(p_pop),
        p_ncol=p_ncol,
        p_nsize=p_nsize,
        p_nsku=p_nsku,
        p_off=p_off,
        p_fragile=np.isin(p_sub, fragile_subs),
        p_premium=p_price >= W.PREMIUM_PRICE_EUR * 100 * shape.price_scale,
        s_prod=np.array(s_prod, np.int64),
        s_size=np.array(s_size, np.int64),
        s_col=np.array(s_col, np.int64),
        s_size_prob=np.array(s_size_prob),
        sku_code=sku_code,
        plant=plant,
        custom=custom,
        shape=shape,
    )
    cat.demand = demand_model(cat, scale)
    purchasing.batches(rng, cat)
    return cat
