"""Purchasing in the world model: the suppliers the shop buys from and the production batches
it receives, with the planted supplier and batch signals (small-sizing suppliers, defective
batches)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from faker.providers.person.nl_NL import Provider as PersonNL

from returnlens.demo import world as W
from returnlens.demo.sampling import group_arange, id_width
from returnlens.demo.shape import Shape, ShapeError
from returnlens.demo.timeline import EXT_LO, N_DAYS
from returnlens.ingest.contracts import CATEGORIES


def suppliers_per_category(suppliers: int | None, shape: Shape) -> dict[str, int]:
    """Suppliers per category: the demo's, or `suppliers` spread in the same proportions (a
    category of the shop profile weighs as its archetype, split over the categories sharing it)."""
    demo = shape.categories == CATEGORIES and shape.category_archetypes == CATEGORIES
    if demo and (suppliers is None or suppliers == W.DEFAULT_SUPPLIERS):
        return dict(W.SUPPLIERS_PER_CATEGORY)
    suppliers = W.DEFAULT_SUPPLIERS if suppliers is None else suppliers
    n_cat = len(shape.categories)
    if suppliers < n_cat:
        raise ShapeError(
            f"suppliers={suppliers}: a shop needs at least one supplier per category "
            f"({n_cat}); pass suppliers >= {n_cat} or leave it unset"
        )
    weights = np.array(
        [
            W.SUPPLIERS_PER_CATEGORY[a] / shape.sharing(i)
            for i, a in enumerate(shape.category_archetypes)
        ],
        float,
    )
    exact = (suppliers - n_cat) * weights / weights.sum()
    counts = 1 + np.floor(exact).astype(np.int64)  # largest remainder, one each at least
    rest = suppliers - int(counts.sum())
    counts[np.argsort(-(exact - np.floor(exact)), kind="stable")[:rest]] += 1
    return dict(zip(shape.categories, (int(n) for n in counts), strict=True))


def draw_suppliers(
    rng: np.random.Generator, suppliers: int | None, plant: bool, shape: Shape
) -> SimpleNamespace:
    """The suppliers per category, their names, countries, lead times and return effects."""
    archs = shape.category_archetypes
    per_category = suppliers_per_category(suppliers, shape)
    custom = per_category != W.SUPPLIERS_PER_CATEGORY
    sup_rows = [i for i, c in enumerate(shape.categories) for _ in range(per_category[c])]
    n_sup = len(sup_rows)
    sup_cat = np.array(sup_rows, np.int64)
    last = PersonNL.last_names
    sup_names, sup_country, sup_lead = [], [], []
    for ci in sup_rows:
        c = archs[ci]
        name = last[int(rng.integers(len(last)))].replace("'s ", "").split(" ")[-1]
        suffix = W.SUPPLIER_SUFFIX[c][int(rng.integers(len(W.SUPPLIER_SUFFIX[c])))]
        sup_names.append(f"{name} {suffix}")
        country = W.SUPPLIER_COUNTRIES[c][int(rng.integers(len(W.SUPPLIER_COUNTRIES[c])))]
        sup_country.append(country)
        far = country in ("CN", "TW", "KR", "BD")
        sup_lead.append(int(rng.integers(35, 75) if far else rng.integers(5, 30)))
    sup_effect = rng.normal(0.0, W.SUPPLIER_EFFECT_SD, n_sup)
    apparel_sups = np.flatnonzero(np.isin(sup_cat, shape.of("apparel")))
    n_small = min(W.N_SMALL_SIZING_SUPPLIERS, len(apparel_sups))
    small = np.sort(rng.choice(apparel_sups, n_small, replace=False))
    sup_small = np.zeros(n_sup, bool)
    sup_small[small] = plant
    # without planted signals every supplier returns at its category's base rates
    sup_effect = (sup_effect if plant else 0.0 * sup_effect) + W.SMALL_SIZING_LOGIT * sup_small
    return SimpleNamespace(
        per_category=per_category,
        custom=custom,
        n_sup=n_sup,
        sup_cat=sup_cat,
        sup_names=sup_names,
        sup_country=sup_country,
        sup_lead=np.array(sup_lead),
        sup_effect=sup_effect,
        sup_small=sup_small,
        sup_ids=[f"SUP{i + 1:0{id_width(n_sup, 3)}d}" for i in range(n_sup)],
    )


def batches(rng: np.random.Generator, cat: SimpleNamespace) -> None:
    """A batch per product every 6-10 weeks, the first one before the period starts."""
    n_p = len(cat.p_cat)
    k = 12
    first = -rng.integers(10, 80, n_p)
    gaps = rng.integers(W.BATCH_GAP_DAYS[0], W.BATCH_GAP_DAYS[1] + 1, (n_p, k - 1))
    days = first[:, None] + np.concatenate([np.zeros((n_p, 1), np.int64), gaps.cumsum(1)], 1)
    valid = days < N_DAYS - 1
    b_prod = np.repeat(np.arange(n_p), valid.sum(1))
    b_day = days[valid]
    b_seq = group_arange(valid.sum(1)) + 1
    # units: the expected demand until the next batch (or the period end) plus safety stock
    units_pd = cat.demand.units_pd
    cum = np.concatenate([np.zeros((n_p, 1)), units_pd.cumsum(1)], 1)
    nxt = np.where(valid, days, N_DAYS + 30)
    nxt = np.concatenate([nxt[:, 1:], np.full((n_p, 1), N_DAYS + 30)], 1)[valid]
    lo = b_day - EXT_LO
    hi = nxt - EXT_LO
    expected = cum[b_prod, hi] - cum[b_prod, lo]
    units = np.maximum(1, np.round(expected * rng.uniform(1.05, 1.4, len(b_day)) + 5))
    # defective batches: popular electronics and home-textile products, received mid-season
    defect = np.zeros(len(b_day), bool)
    picks = []
    subs = cat.shape.subcategories
    for arch, sub_name, n in (("electronics", None, 2), ("home", "textiles", 1)):
        m = np.isin(cat.p_cat, cat.shape.of(arch))
        if sub_name:
            m &= np.isin(cat.p_sub, [i for i, s in enumerate(subs) if s[2][:2] == (arch, sub_name)])
        cand = np.flatnonzero(m)
        picks += list(cand[np.argsort(-cat.p_pop[cand], kind="stable")[:n]])
    for p in picks[: W.N_DEFECTIVE_BATCHES]:
        cand = np.flatnonzero((b_prod == p) & (b_day >= 75) & (b_day <= 240))
        defect[cand[np.argmax(units[cand])]] = cat.plant  # the biggest mid-season batch
    cat.b_prod = b_prod
    cat.b_day = b_day
    cat.b_seq = b_seq
    cat.b_units = units.astype(np.int64)
    cat.b_defect = defect
    # latest batch received before each (product, order day)
    b_key = b_prod * 10_000 + (b_day + 1_000)
    grid = np.arange(n_p)[:, None] * 10_000 + (np.arange(N_DAYS)[None, :] + 1_000)
    cat.b_table = (np.searchsorted(b_key, grid, side="left") - 1).astype(np.int32)
    assert (b_prod[cat.b_table] == np.arange(n_p)[:, None]).all()
    cat.b_code = [f"{cat.p_code[p]}-B{s:02d}" for p, s in zip(b_prod, b_seq, strict=True)]
