"""Ground truth of the demo shop: the planted facts, computed from the world model's probabilities.

Tests and marts compare what they recover from the landing files with these numbers.
"""

from __future__ import annotations

import numpy as np

from returnlens.demo import world as W
from returnlens.demo.model.returns import reason_profiles
from returnlens.demo.timeline import DAY0, EXT_LO, N_DAYS
from returnlens.profile import WEEKDAYS as W_DAYS


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def _mean(x: np.ndarray) -> float | None:
    """The mean, None of nothing (a profile's shop may lack lines of a kind)."""
    return float(x.mean()) if x.size else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return _r(a / b) if a is not None and b else None


def _decile_means(values: np.ndarray, p: np.ndarray) -> list[float | None]:
    order = np.argsort(values, kind="stable")
    means = (_mean(chunk) for chunk in np.array_split(p[order], 10))
    return [None if m is None else _r(m) for m in means]


def _hesitation(cat, od, lm) -> dict:
    shape = cat.shape
    web = od.it_web[od.ln_item]
    d = od.it_d[od.ln_item][web]
    views = od.it_views[od.ln_item][web]
    p = lm.p[web]
    dec_d = _decile_means(d, p)
    dec_v = _decile_means(views, p)
    sized = np.isin(od.ln_cat, shape.of("apparel") + shape.of("shoes"))
    br = lm.bracket
    sg = od.it_sg[od.ln_item]
    sized_web = sized & web_mask(od)
    rate_br, rate_not_br = _mean(lm.p[sized & br]), _mean(lm.p[sized & ~br])
    return {
        "effects_logit": {k: W.BETA[k] for k in ("log10_decision_minutes", "extra_views")}
        | {"size_guide": W.BETA["size_guide"], "bracketing": W.BETA["bracketing"]},
        "decision_time_definition": (
            "minutes from the customer's first product_view of the line's product_id (any sku) "
            "to ordered_at; web and app orders only (marketplace orders have no session)"
        ),
        "views_definition": "product_view events of the line's product_id by the customer before ordered_at",
        "decision_minutes_log10_mean_by_category": {
            c: W.LOGD_MU[a]
            for c, a in zip(shape.categories, shape.category_archetypes, strict=True)
        },
        "decision_minutes_log10_sd": W.LOGD_SD,
        "expected_return_rate_by_decision_time_decile": dec_d,
        "expected_ratio_top_vs_bottom_decision_time_decile": _ratio(dec_d[-1], dec_d[0]),
        "expected_return_rate_by_views_decile": dec_v,
        "expected_ratio_top_vs_bottom_views_decile": _ratio(dec_v[-1], dec_v[0]),
        "bracketing_definition": (
            f"{'/'.join(_named(shape, 'apparel', 'shoes'))} lines whose order has 2-3 lines of "
            "the same product_id"
        ),
        "expected_return_rate_bracketing": None if rate_br is None else _r(rate_br),
        "expected_return_rate_not_bracketing_apparel_shoes": (
            None if rate_not_br is None else _r(rate_not_br)
        ),
        "expected_ratio_bracketing": _ratio(rate_br, rate_not_br),
        "expected_ratio_size_guide_vs_none": _ratio(
            _mean(lm.p[sized_web & sg]), _mean(lm.p[sized_web & ~sg])
        ),
        "purchase_sessions": "orders.session_id is the session that ended in the purchase",
    }


def _named(shape, *archetypes: str) -> list[str]:
    """The shop's categories that behave like these archetypes (the demo: the archetypes)."""
    return [
        c
        for c, a in zip(shape.categories, shape.category_archetypes, strict=True)
        if a in archetypes
    ]


def _premium(shape):
    """The premium price threshold: the demo's, scaled with the profile's prices."""
    if shape.price_scale == 1.0:
        return W.PREMIUM_PRICE_EUR
    return _r(W.PREMIUM_PRICE_EUR * shape.price_scale, 2)


def web_mask(od) -> np.ndarray:
    return od.it_web[od.ln_item]


def _small_sizing(cat, od, lm, reasons) -> dict:
    app = np.isin(od.ln_cat, cat.shape.of("apparel"))
    too_small = reasons[lm.profile, W.R["SIZE_TOO_SMALL"]]
    out = {}
    for name, m in (("small_sizing", app & lm.small), ("other_apparel", app & ~lm.small)):
        out[name] = {
            "expected_too_small_share_of_returns": _r(
                (lm.p[m] * too_small[m]).sum() / lm.p[m].sum()
            )
            if m.any()
            else None,
            "expected_return_rate": _r(lm.p[m].mean()) if m.any() else None,
            "lines": int(m.sum()),
        }
    a, b = out["small_sizing"], out["other_apparel"]
    if a["lines"] == 0 or b["lines"] == 0:  # none planted (or no other apparel supplier)
        ratios = {"expected_too_small_share_ratio": None, "expected_return_rate_ratio": None}
    else:
        ratios = {
            "expected_too_small_share_ratio": _r(
                a["expected_too_small_share_of_returns"] / b["expected_too_small_share_of_returns"]
            ),
            "expected_return_rate_ratio": _r(a["expected_return_rate"] / b["expected_return_rate"]),
        }
    return {
        "small_sizing_supplier_ids": [cat.sup_ids[i] for i in np.flatnonzero(cat.sup_small)],
        "apparel_supplier_ids": [
            cat.sup_ids[i] for i in np.flatnonzero(np.isin(cat.sup_cat, cat.shape.of("apparel")))
        ],
        "too_small_reason_weight_multiplier": W.SMALL_SIZING_TOO_SMALL_WEIGHT,
        "return_logit_offset": W.SMALL_SIZING_LOGIT,
        "groups": out,
        **ratios,
    }


def _defective(cat, od, lm, reasons) -> dict:
    out = []
    dmg = reasons[:, W.R["DEFECTIVE"]] + reasons[:, W.R["DAMAGED_IN_TRANSIT"]]
    for b in np.flatnonzero(cat.b_defect):
        p_id = cat.b_prod[b]
        in_b = od.ln_batch == b
        others = (od.ln_prod == p_id) & ~in_b
        pb, po = lm.p[in_b], lm.p[others]
        out.append(
            {
                "batch_id": cat.b_code[b],
                "product_id": cat.p_code[p_id],
                "category": cat.shape.categories[cat.p_cat[p_id]],
                "received_date": str(DAY0 + int(cat.b_day[b])),
                "lines": int(in_b.sum()),
                "expected_return_rate": _r(pb.mean()) if len(pb) else None,
                "expected_return_rate_other_batches": _r(po.mean()) if len(po) else None,
                "expected_ratio": _r(pb.mean() / po.mean()) if len(pb) and len(po) else None,
                "expected_defect_or_damage_share_of_returns": _r(
                    (pb * dmg[lm.profile[in_b]]).sum() / pb.sum()
                )
                if len(pb)
                else None,
            }
        )
    return {
        "defective_batch_ids": [x["batch_id"] for x in out],
        "return_logit_offset": W.DEFECTIVE_BATCH_LOGIT,
        "batches": out,
    }


def _seasonality(cat, od, lm) -> dict:
    shape = cat.shape
    units = cat.demand.units_pd[:, -EXT_LO : -EXT_LO + N_DAYS]
    months = (DAY0 + np.arange(N_DAYS)).astype("datetime64[M]")
    labels = [str(m) for m in np.unique(months)]

    def share_by_month(products: np.ndarray) -> dict:
        u = units[products].sum(0)
        by_m = np.array([u[months == np.datetime64(m)].sum() for m in labels])
        return dict(zip(labels, (_r(x) for x in by_m / by_m.sum()), strict=True))

    demand, rates = {}, {}
    for ci, c in enumerate(shape.categories):
        demand[c] = share_by_month(cat.p_cat == ci)
        m_line = od.ln_month  # calendar month of the order
        rates[c] = {}
        for lab in labels:
            cm = int(lab[5:]) - 1
            sel = (od.ln_cat == ci) & (m_line == cm)
            rates[c][lab] = _r(lm.p[sel].mean()) if sel.any() else None
    # the garden archetype's categories together (the demo: garden)
    gardens = np.isin(cat.p_cat, shape.of("garden"))
    garden = share_by_month(gardens) if gardens.any() else None
    return {
        "seasonal_categories": _named(shape, *W.SEASONAL_CATEGORIES),
        "expected_demand_share_by_month": demand,
        "garden_peak_months": (
            sorted(sorted(garden, key=garden.get, reverse=True)[:4]) if garden else []
        ),
        "garden_demand_share_apr_jul": (
            _r(sum(garden[m] for m in garden if m[5:] in ("04", "05", "06", "07")))
            if garden
            else None
        ),
        "return_logit_offset_by_calendar_month": (
            {
                c: W.RETURN_SEASON[a]
                for c, a in zip(shape.categories, shape.category_archetypes, strict=True)
                if a in W.RETURN_SEASON
            }
            if cat.plant
            else {}
        ),
        "expected_return_rate_by_order_month": rates,
    }


def _fragile(cat, od, lm, reasons) -> dict:
    home = np.isin(od.ln_cat, cat.shape.of("home"))
    dmg = reasons[lm.profile, W.R["DAMAGED_IN_TRANSIT"]] * lm.p
    f = home & lm.fragile
    o = home & ~lm.fragile
    fragile = [s[1] for s in cat.shape.subcategories if s[2][1] in W.FRAGILE_SUBCATEGORIES]
    both = f.any() and o.any()
    return {
        "fragile_subcategories": fragile,
        "damage_reason_weight_multiplier": W.FRAGILE_DAMAGE_WEIGHT if cat.plant else 1.0,
        "expected_damaged_in_transit_rate_fragile": _r(dmg[f].mean(), 5) if f.any() else None,
        "expected_damaged_in_transit_rate_other_home": _r(dmg[o].mean(), 5) if o.any() else None,
        "expected_damage_rate_multiplier": _r(dmg[f].mean() / dmg[o].mean()) if both else None,
    }


def _forecast(cat, od, lm) -> dict:
    q = od.ln_qty
    e_ret = lm.p * np.where(q == 1, 1.0, 0.8 * q)
    out = {}
    for ci, c in enumerate(cat.shape.categories):
        m = od.ln_cat == ci
        r = e_ret[m].sum() / q[m].sum()
        out[c] = {"expected_return_rate_units": _r(r), "expected_overstatement": _r(r / (1 - r))}
    r = e_ret.sum() / q.sum()
    return {
        "definition": (
            "forecast gross_demand_units are expected gross units sold (before returns); "
            "overstatement = gross / net - 1 = r / (1 - r), r = expected returned share of units"
        ),
        "versions": "one per month 2025-11..2026-10, created on the 1st, 6 weeks from the next Monday",
        "noise_lognormal_sd": W.FORECAST_NOISE_SD,
        "by_category": out,
        "overall": {"expected_return_rate_units": _r(r), "expected_overstatement": _r(r / (1 - r))},
    }


def ground_truth(seed, scale, dirty, cat, cust, od, lm, rt) -> dict:
    """Planted facts; the generator adds row counts, session counts and dirty-mode facts."""
    shape = cat.shape
    reasons = reason_profiles(shape)
    abuser_ids = np.flatnonzero(cust.abuser)
    wc = max(7, len(str(cust.n)))
    ordering = np.bincount(od.customer, minlength=cust.n) > 0
    base = {}
    for ci, (c, a) in enumerate(zip(shape.categories, shape.category_archetypes, strict=True)):
        m = od.ln_cat == ci
        base[c] = {
            "target_return_rate_non_abusers": W.BASE_RETURN_RATE[a],
            "expected_return_rate_all_lines": _r(lm.p[m].mean()) if m.any() else None,
            "calibrated_intercept_logit": _r(lm.intercept[ci]),
        }
    truth = {
        "seed": seed,
        "scale": scale,
        "dirty": dirty,
        "period": {
            "start": f"{W.PERIOD_START} 00:00:00",
            "end": "2026-10-31 23:59:59",
            "as_of": f"{W.AS_OF} 00:00:00",
        },
        "row_counts": {},
        "return_window_days": shape.return_window_days,
        "premium_price_threshold_eur": _premium(shape),
        "slow_refund_days": W.SLOW_REFUND_DAYS,
        "signals": {
            "hesitation": _hesitation(cat, od, lm),
            "small_sizing": _small_sizing(cat, od, lm, reasons),
            "defective_batches": _defective(cat, od, lm, reasons),
            "seasonality": _seasonality(cat, od, lm),
            "base_return_rates": base,
            "abusers": {
                "abuser_customer_ids": [f"C{i + 1:0{wc}d}" for i in abuser_ids],
                "abuser_customer_ids_with_orders": [
                    f"C{i + 1:0{wc}d}" for i in abuser_ids if ordering[i]
                ],
                "return_probability": W.ABUSER_RETURN_PROB,
                "request_within_days": W.ABUSER_REQUEST_DELAY_DAYS,
                "condition_mix": dict(W.CONDITION_ABUSER),
                "expected_return_rate_non_abusers": _r(lm.p[~lm.abuser].mean()),
            },
            "fragile": _fragile(cat, od, lm, reasons),
            "premium": {
                "premium_price_threshold_eur": _premium(shape),
                "premium_product_ids": [cat.p_code[i] for i in np.flatnonzero(cat.p_premium)],
                "return_logit_offset": W.BETA["premium"] if cat.plant else 0.0,
            },
            "slow_refunds": {
                "slow_refund_days": W.SLOW_REFUND_DAYS,
                "definition": "refunded_at - requested_at > 14 days (post_return surveys)",
                "planted_score_penalty": W.SLOW_REFUND_PENALTY,
                "score_mean_before_penalty": W.SCORE_MEAN_RETURN,
                "score_sd": W.SCORE_SD,
                "slow_refund_tail_share": W.SLOW_REFUND_SHARE,
            },
            "forecast": _forecast(cat, od, lm),
        },
        "conventions": {
            "keep_it": (
                "keep_it returns: no received_at/inspected_at/condition/disposition; refunded "
                "0-3 days after the request with the full net value of the returned units"
            ),
            "exchange": "refund_amount_eur 0.00 and refunded_at empty",
            "in_progress": "steps after as_of are empty; refund_amount_eur empty until refunded",
            "refund_amount": "quantity returned * (unit_price_eur - discount_eur / quantity), 2 dec",
            "batch": "each line ships from its product's latest batch received before the order date",
            "forecast_version": "YYYY-MM of the month the forecast was created",
            "events": (
                "purchase session per web/app order (orders.session_id); earlier product views "
                "in research sessions of the same customer; browse-only sessions, ~30% anonymous"
            ),
        },
        "counts": {
            "customers_with_orders": int(ordering.sum()),
            "rmas": int(rt.n_rma),
        },
    }
    if dirty:
        truth["dirty_mode"] = {
            "duplicate_row_share": W.DIRTY["duplicate_row_share"],
            "duplicated_files": ["customers", "orders", "order_lines", "returns", "nps_responses"],
            "orphan_returns": "some single-line RMAs reference order ids that exist in no orders file",
            "reason_code_blank": "some returns have an empty reason_code and only reason_text",
            "reason_text_variants": "upper case, extra leading/trailing spaces, capitalised",
            "optional_nulls": "phone, weight_g, session_id, shipped_at, batch_id emptied at ~5%",
        }
    return truth


def planted_facts(cat, plant_signals: bool) -> dict:
    """What a non-default shop planted (the default demo's truth leaves this key out)."""
    names = cat.shape.categories
    n_products = {c: int((cat.p_cat == ci).sum()) for ci, c in enumerate(names)}
    return {
        "plant_signals": plant_signals,
        "suppliers": int(cat.n_sup),
        "suppliers_by_category": {c: int((cat.sup_cat == ci).sum()) for ci, c in enumerate(names)},
        "products_by_category": n_products,
        "batches": len(cat.b_code),
        "small_sizing_supplier_ids": [cat.sup_ids[i] for i in np.flatnonzero(cat.sup_small)],
        "defective_batch_ids": [cat.b_code[b] for b in np.flatnonzero(cat.b_defect)],
        "supplier_effect_logit_sd": W.SUPPLIER_EFFECT_SD if plant_signals else 0.0,
        "product_effects": (
            {"fragile_logit": W.BETA["fragile"], "premium_logit": W.BETA["premium"]}
            if plant_signals
            else {}
        ),
        "return_seasonality": plant_signals,
        "quality_null": (
            None
            if plant_signals
            else (
                "no planted quality signal: every product, supplier and batch draws its returns "
                "from the base rates of its category (customer behaviour alone varies per line), "
                "so a quality alert on this shop is a false alarm"
            )
        ),
    }


def shop_facts(shape) -> dict:
    """How a shop profile was mapped onto the demo's world (only for `generate --profile`)."""
    return {
        "profile": shape.profile_path.name,
        "category_archetypes": dict(zip(shape.categories, shape.category_archetypes, strict=True)),
        "channel_archetypes": dict(zip(shape.channels, shape.channel_archetypes, strict=True)),
        "channels_without_web_session": [
            c
            for c, a in zip(shape.channels, shape.channel_archetypes, strict=True)
            if a == "marketplace"
        ],
        "countries": list(shape.countries),
        "currency": shape.currency,
        "limits": {
            "max_quantity": shape.max_quantity,
            "max_order_total": None
            if shape.max_order_total_c is None
            else shape.max_order_total_c / 100,
            "max_refund": None if shape.max_refund_c is None else shape.max_refund_c / 100,
            "min_list_price": None
            if shape.min_list_price_c is None
            else shape.min_list_price_c / 100,
        },
        "bulk_line_share": _r(shape.bulk_share),
        "price_scale": _r(shape.price_scale),
        "closed_weekdays": [W_DAYS[d] for d in shape.closed_weekdays],
        "closed_dates": list(shape.closed_dates),
        "absent_sources": sorted(shape.absent),
    }
