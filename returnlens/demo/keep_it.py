"""Keep-it products: a few often-returned products the shop buys so cheaply that letting the
customer keep the item costs less than taking it back, beside look-alike controls where the
take-back clearly pays.

`plant(rng, cat, cust, od, rt)` runs last in the world model, when the returns are final
(interventions thinned, loyalty gap dropped). It judges the return lines the way
sig_keep_it_advice does (docs/kpis.md, "Keep-it advice"): lines requested in the WINDOW_DAYS
days up to the data's as-of date (the latest order or return request), shipped back (not a
keep-it; the demo cancels no return) and decided on (a disposition). Among the products with at least PLANTED_MIN_LINES such lines:

- the N_PLANTED with the lowest list price get a unit cost of a share PLANTED_COST_SHARE of
  their list price (drawn per product, within PLANTED_COST_C cents): the label, receiving
  and inspecting then cost more than the goods recover, so keep-it is cheaper;
- per planted product, a control: another such product, of the same category where one is left,
  with the nearest number of judged lines, whose drawn unit cost makes a keep-it lose at least
  -CONTROL_MAX_SAVING_C cents per line (keep-it clearly not cheaper); its cost stays.

Only the planted products' unit costs change (products.csv); every drawn order, line, return
and every other file stays as it was. The draws use a generator of their own. Planted with the
other signals, in the demo's own shape only (its countries and EUR, which the cost defaults
below are for).

The truth (`keep_it` in ground_truth.json) gives each product's judged lines and the saving a
keep-it would have made on them, computed here from the cost seed's documented defaults
(COST_DEFAULTS, docs/kpis.md "Cost of returns"; seeds/return_cost_parameters.csv), per line in
whole cents: the return label of the order's shipping country split over the RMA's lines in
whole cents (the remainder to the line with the smallest order_line_id), receiving and
inspecting (minutes x hourly rate / 60), refurbishment by condition grade x units, less the
goods at cost x the disposition's recovery share (half up to the cent).
"""

from __future__ import annotations

import numpy as np

from returnlens.demo.timeline import DAY
from returnlens.ingest.contracts import CONDITION_GRADES, DISPOSITIONS, RESOLUTIONS

N_PLANTED = 3
WINDOW_DAYS = 90  # dbt var keep_it_window_days
MIN_LINES = 5  # dbt var keep_it_min_lines
PLANTED_MIN_LINES = 6  # judged lines a planted product or control has at least
PLANTED_COST_SHARE = (0.04, 0.08)  # a planted product's unit cost, share of its list price
PLANTED_COST_C = (50, 300)  # and within these bounds (cents)
CONTROL_MAX_SAVING_C = -1000  # a control's saving per line is at most this (cents)

# the documented defaults of seeds/return_cost_parameters.csv, in cents and minutes
# (tests/unit/test_generator_keep_it.py checks they equal the seed)
COST_DEFAULTS = {
    "return_label_c": {"NL": 525, "BE": 675, "DE": 695, "default": 995},
    "take_back_minutes": {"receive": 4, "inspect": 6},
    "handling_hourly_rate_c": 2700,
    "refurbishment_c": {"as_new": 0, "opened": 75, "worn": 350, "damaged": 600, "empty_box": 0},
    "recovery_percent": {
        "restock": 100,
        "refurbish": 85,
        "return_to_supplier": 100,
        "liquidate": 30,
        "destroy": 0,
    },
}


def _half_up(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """numerator / denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def judged_lines(cat, cust, od, rt) -> tuple[np.ndarray, np.ndarray, dict]:
    """The return lines (indices into rt's lines) sig_keep_it_advice judges, and the saving of
    a keep-it on every return line in cents (see the module docstring)."""
    cd = COST_DEFAULTS
    as_of_day = max(int(od.ts.max(initial=0)), int(rt.requested.max(initial=0))) // DAY
    rma = rt.rl_rma
    res = rt.resolution[rma]
    day = rt.requested[rma] // DAY
    judged = np.flatnonzero(
        (res != RESOLUTIONS.index("keep_it"))
        & (rt.disposition >= 0)
        & (day > as_of_day - WINDOW_DAYS)
        & (day <= as_of_day)
    )
    # the label: per RMA (all its lines are shipped back unless it is a keep-it), in whole cents
    countries = cat.shape.countries
    rate = np.array(
        [cd["return_label_c"].get(c, cd["return_label_c"]["default"]) for c in countries]
    )
    label_c = rate[cust.country[od.customer[rt.rma_order]]]
    lines = np.bincount(rma, minlength=rt.n_rma)
    # the line with the smallest order_line_id of its RMA ('<order>-<n>': string order of n)
    number = od.ln_number[rt.rl]
    by_text = np.argsort([str(n) for n in range(int(number.max(initial=0)) + 1)], kind="stable")
    text_rank = np.empty_like(by_text)
    text_rank[by_text] = np.arange(len(by_text))
    line_rank = text_rank[number]
    first = np.full(rt.n_rma, len(text_rank))
    np.minimum.at(first, rma, line_rank)
    share = label_c[rma] // lines[rma]
    label = share + np.where(line_rank == first[rma], label_c[rma] - lines[rma] * share, 0)
    minutes = cd["take_back_minutes"]
    take_back_minutes = np.where(rt.received[rma] >= 0, minutes["receive"], 0) + np.where(
        rt.inspected[rma] >= 0, minutes["inspect"], 0
    )
    handling = _half_up(take_back_minutes * cd["handling_hourly_rate_c"], 60)
    refurb_c = np.array([cd["refurbishment_c"].get(g, 0) for g in CONDITION_GRADES] + [0])
    recovery = np.array([cd["recovery_percent"].get(d, 0) for d in DISPOSITIONS] + [0])
    goods_c = cat.p_cost[od.ln_prod[rt.rl]] * rt.qty
    saving = (
        np.where(res != RESOLUTIONS.index("keep_it"), label, 0)
        + handling
        + refurb_c[rt.condition] * rt.qty
        - _half_up(goods_c * recovery[rt.disposition], 100)
    )
    window = {
        "as_of_date": str(np.datetime64(as_of_day, "D")),
        "window_start_date": str(np.datetime64(as_of_day - WINDOW_DAYS + 1, "D")),
    }
    return judged, saving, window


def _per_product(cat, od, rt, judged, saving) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_p = len(cat.p_cat)
    prod = od.ln_prod[rt.rl[judged]]
    n = np.bincount(prod, minlength=n_p)
    units = np.bincount(prod, weights=rt.qty[judged], minlength=n_p).astype(np.int64)
    total = np.bincount(prod, weights=saving[judged], minlength=n_p).round().astype(np.int64)
    return n, units, total


def plant(rng: np.random.Generator, cat, cust, od, rt) -> dict:
    """Make the planted products cheap, in place (cat.p_cost), and return the ground truth's
    "keep_it" block (see the module docstring)."""
    judged, saving, window = judged_lines(cat, cust, od, rt)
    n, _, total = _per_product(cat, od, rt, judged, saving)
    candidate = np.flatnonzero(n >= PLANTED_MIN_LINES)
    planted = candidate[np.argsort(cat.p_price[candidate], kind="stable")][:N_PLANTED]
    original_cost = cat.p_cost[planted].copy()
    share = rng.uniform(*PLANTED_COST_SHARE, len(planted))
    cat.p_cost[planted] = np.clip(np.round(cat.p_price[planted] * share), *PLANTED_COST_C).astype(
        np.int64
    )
    # the controls: judged at their own (unchanged) cost
    per_line = np.where(n > 0, total / np.maximum(n, 1), 0.0)
    left = candidate[~np.isin(candidate, planted) & (per_line[candidate] <= CONTROL_MAX_SAVING_C)]
    controls = []
    for p in planted:  # a handful: one pick each
        pool = left[~np.isin(left, controls)]
        same = pool[cat.p_cat[pool] == cat.p_cat[p]]
        pool = same if len(same) else pool
        if len(pool):
            controls.append(int(pool[np.argmin(np.abs(n[pool] - n[p]), axis=0)]))
    judged, saving, _ = judged_lines(cat, cust, od, rt)  # with the planted costs
    n, units, total = _per_product(cat, od, rt, judged, saving)
    products = {}
    for role, chosen in (("keep_it", planted), ("control", np.array(controls, np.int64))):
        for p in chosen:
            products[cat.p_code[p]] = {
                "role": role,
                "category": cat.shape.categories[cat.p_cat[p]],
                "list_price_eur": int(cat.p_price[p]) / 100,
                "unit_cost_eur": int(cat.p_cost[p]) / 100,
                "judged_lines": int(n[p]),
                "judged_units": int(units[p]),
                "expected_saving_eur": int(total[p]) / 100,
                "expected_saving_per_line_eur": round(int(total[p]) / 100 / int(n[p]), 6),
                # sig_keep_it_advice's rule
                "must_be_advised": bool(n[p] >= MIN_LINES and total[p] > 0),
            }
    for p, cost in zip(planted, original_cost, strict=True):
        products[cat.p_code[p]]["unit_cost_before_planting_eur"] = int(cost) / 100
    return {
        **window,
        "window_days": WINDOW_DAYS,
        "min_lines": MIN_LINES,
        "planted_min_lines": PLANTED_MIN_LINES,
        "planted_cost_share_of_list_price": list(PLANTED_COST_SHARE),
        "planted_cost_bounds_eur": [c / 100 for c in PLANTED_COST_C],
        "control_max_saving_per_line_eur": CONTROL_MAX_SAVING_C / 100,
        "cost_defaults": COST_DEFAULTS,
        "products": products,
        "advised": sorted(cat.p_code[p] for p in planted),
        "not_advised": sorted(cat.p_code[p] for p in controls),
    }
