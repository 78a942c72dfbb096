"""Interventions: changes the demo shop made to lower returns, planted with a known effect.

`plant(rng, cat, od, lm)` returns the rows of `interventions/interventions.csv` with their ground
truth (computed from the line model's return probabilities as each intervention changes them)
and a plan; `thin(rng, rt, plan)` then removes the returns the interventions prevented from
the drawn returns, so every other drawn value of the shop stays exactly as without them (the
planted quality signals, NPS, forecasts keep their realisation). Planted only
with the other signals (`plant_signals`), and only what the shop's shape allows:

- `INT-FORM`, a clearer return form for the (first) apparel-like category from one of
  FORM_STARTS: the return probability of every line of the category ordered from then on times 1 - FORM_CUT, all
  reasons alike (no target reason);
- `INT-SIZE`, a size-guide fix for a small-sizing supplier from one of SIZE_STARTS: for a share
  SIZE_HELPED of its lines ordered from then on the size now runs true: their reasons are drawn
  like the other apparel's and their return probability falls by the excess too-small returns
  only (returns for other reasons stay as they were); target reason size_too_small;
- `INT-PLACEBO`, new packaging for a home-like supplier from one of PLACEBO_STARTS: no effect
  (target reason damaged_in_transit, also unchanged);
- `INT-RECENT`, a new returns page for the (first) shoes-like category from RECENT_START: no
  effect, and too recent for its cohorts to be mature at the extract.

The truth per intervention is the mean change in return probability (and in the probability of
a return for the targeted reason) over the treated, delivered lines ordered in the first
TRUTH_WEEKS weeks from the start: the average effect on the treated that
sig_intervention_effects estimates with its default window. `category_rate_change` says how much
each category's mean return probability over the whole year moved (the base rates of the ground
truth include the interventions).

Dates are Mondays, so every order week is wholly before or after a start. A
difference-in-differences cannot tell an effect from a trend of the treated scope that its
controls do not share (the demo's apparel and garden return seasons, a defective batch of the
treated supplier, the mix of abusers' lines), so each intervention is planted where the model's
own return probabilities, without it, give the smallest such gap (`trend_gap`): FORM_STARTS lie
where the apparel and garden seasons change least over the eight weeks either side; the supplier
and start of INT-SIZE and INT-PLACEBO are the candidates' best. The truth states the gap that
remained (`trend_gap_without_intervention`).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from returnlens.demo import world as W
from returnlens.demo.model.returns import reason_profiles
from returnlens.demo.sources.files import CSV_OPTS, Writer
from returnlens.demo.timeline import DAY0

# candidate starts (Mondays); each intervention takes the candidate (and, for a supplier, the
# supplier) where the treated and the control scopes' expected rates move most alike without it
FORM_STARTS, FORM_CUT = ("2026-04-13", "2026-04-20", "2026-04-27"), 0.15
SIZE_STARTS, SIZE_HELPED = (
    ("2026-06-01", "2026-06-15", "2026-07-06", "2026-07-20", "2026-08-03"),
    0.6,
)
PLACEBO_STARTS = ("2026-05-04", "2026-06-15", "2026-07-06")
RECENT_START = "2026-10-12"
TRUTH_WEEKS = 8
SMALL_FLAG = 8  # the small-sizing bit of the line model's reason profile


def _rounded(x: float) -> float | None:
    return None if np.isnan(x) else round(x, 5)


def _day(date: str) -> int:
    return int((np.datetime64(date, "D") - DAY0).astype(int))


def trend_gap(p, day, delivered, treated, unit, start: str, weeks: int = TRUTH_WEEKS) -> float:
    """The difference-in-differences the expected return probabilities `p` give for `treated`
    lines against the other lines with a `unit` >= 0 (each unit's own change, weighted by its
    lines), over `weeks` order weeks either side of `start`: without an intervention, the gap
    in trends an estimate cannot tell from an effect."""
    s = _day(start)
    pre = delivered & (day >= s - 7 * weeks) & (day < s)
    post = delivered & (day >= s) & (day < s + 7 * weeks)
    n_u = int(unit.max()) + 2
    u = np.where(treated, n_u - 1, unit)  # the treated scope is the last unit
    ok = u >= 0
    n0 = np.bincount(u[pre & ok], minlength=n_u)
    n1 = np.bincount(u[post & ok], minlength=n_u)
    m0 = np.bincount(u[pre & ok], weights=p[pre & ok], minlength=n_u) / np.maximum(n0, 1)
    m1 = np.bincount(u[post & ok], weights=p[post & ok], minlength=n_u) / np.maximum(n1, 1)
    both = (n0 > 0) & (n1 > 0)
    control = both.copy()
    control[-1] = False
    if not both[-1] or not control.any():
        return float("nan")
    w = (n0 + n1)[control]
    return float((m1[-1] - m0[-1]) - np.average((m1 - m0)[control], weights=w))


def plant(rng: np.random.Generator, cat, od, lm) -> tuple[list[dict], SimpleNamespace | None]:
    """The interventions' rows and truth, and the plan `thin` applies to the drawn returns.

    The line model itself is left as it is (the ground truth's other signals describe the
    shop without interventions); the effects are computed on a copy of its probabilities.
    """
    if not cat.plant:
        return [], None
    lm = SimpleNamespace(p=lm.p.copy(), profile=lm.profile.copy(), sup=lm.sup)
    n = len(lm.p)
    plan = SimpleNamespace(form=np.zeros(n, bool), too_small_drop=np.zeros(n))
    shape = cat.shape
    day = od.day[od.ln_order]
    delivered = od.delivered[od.ln_order] >= 0
    too_small = reason_profiles(shape)[:, W.R["SIZE_TOO_SMALL"]]
    n_cat = len(shape.categories)
    planted: list[dict] = []

    def record(key, start, scope_type, scope_value, kind, text, reason, treated, p0, prof0):
        """The row and the truth of one intervention, from the probabilities before/after."""
        window = treated & delivered & (day >= _day(start)) & (day < _day(start) + 7 * TRUTH_WEEKS)
        unit = {"category": od.ln_cat, "supplier": lm.sup}[scope_type]
        if scope_type == "supplier":  # the other suppliers of its category
            categories = np.unique(cat.sup_cat[lm.sup[treated]])  # none: a supplier without lines
            unit = np.where(np.isin(cat.sup_cat[lm.sup], categories), unit, -1)
        effect = float((lm.p[window] - p0[window]).mean()) if window.any() else 0.0
        truth = {
            "effect_on_return_rate": round(effect, 5),
            "treated_lines_in_window": int(window.sum()),
            # the estimate's expected value had nothing been done (p before this intervention)
            "trend_gap_without_intervention": _rounded(
                trend_gap(p0, day, delivered, treated, unit, start)
            ),
            "return_rate_before_in_window": round(float(p0[window].mean()), 5)
            if window.any()
            else None,
        }
        if reason is not None:
            code = reason.upper()
            mix = reason_profiles(shape)[:, W.R[code]]
            after = lm.p[window] * mix[lm.profile[window]]
            before = p0[window] * mix[prof0[window]]
            truth["effect_on_target_reason_rate"] = (
                round(float((after - before).mean()), 5) if window.any() else 0.0
            )
        change = np.bincount(od.ln_cat, weights=lm.p - p0, minlength=n_cat) / np.maximum(
            np.bincount(od.ln_cat, minlength=n_cat), 1
        )
        planted.append(
            {
                "intervention_id": key,
                "start_date": start,
                "scope_type": scope_type,
                "scope_value": scope_value,
                "kind": kind,
                "description": text,
                "target_reason": reason,
                "truth": {
                    **truth,
                    "truth_window_weeks": TRUTH_WEEKS,
                    "category_rate_change": {
                        c: round(float(change[i]), 5)
                        for i, c in enumerate(shape.categories)
                        if change[i] != 0
                    },
                },
            }
        )

    apparel = shape.of("apparel")
    if apparel:
        ci = apparel[0]
        in_cat = od.ln_cat == ci
        gaps = [trend_gap(lm.p, day, delivered, in_cat, od.ln_cat, d) for d in FORM_STARTS]
        form_start = FORM_STARTS[int(np.nanargmin(np.abs(gaps)))]
        treated = in_cat & (day >= _day(form_start))
        p0, prof0 = lm.p.copy(), lm.profile.copy()
        lm.p = np.where(treated, lm.p * (1 - FORM_CUT), lm.p)
        plan.form = treated
        record(
            "INT-FORM",
            form_start,
            "category",
            shape.categories[ci],
            "return_form",
            f"Clearer return form for {shape.categories[ci]}: asks for the reason first and "
            "offers an exchange",
            None,
            od.ln_cat == ci,
            p0,
            prof0,
        )
        del p0, prof0, treated, in_cat  # line-length arrays: memory
    small = np.flatnonzero(cat.sup_small)
    if len(small):
        s, size_start = _least_gap(lm, day, delivered, small, cat.sup_cat, SIZE_STARTS)
        helped = (
            (lm.sup == s)
            & (day >= _day(size_start))
            & ((lm.profile & SMALL_FLAG) > 0)
            & (rng.random(len(lm.p)) < SIZE_HELPED)
        )
        p0, prof0 = lm.p.copy(), lm.profile.copy()
        new_profile = lm.profile & ~SMALL_FLAG
        # the other reasons' returns are kept: p_new * (1 - s_new) = p * (1 - s_old)
        keep = (1 - too_small[lm.profile]) / (1 - too_small[new_profile])
        lm.p = np.where(helped, lm.p * keep, lm.p)
        # the same by thinning drawn returns: too-small ones dropped with this probability
        s_old, s_new = too_small[lm.profile], too_small[new_profile]
        with np.errstate(divide="ignore", invalid="ignore"):  # s_old is 0 off the small profiles
            drop = 1 - (1 - s_old) * s_new / ((1 - s_new) * s_old)
        plan.too_small_drop = np.where(helped, drop, 0.0)
        lm.profile = np.where(helped, new_profile, lm.profile)
        del keep, s_old, s_new, drop, new_profile  # line-length arrays: memory
        record(
            "INT-SIZE",
            size_start,
            "supplier",
            cat.sup_ids[s],
            "size_guide",
            f"Size guide of {cat.sup_ids[s]} corrected: its sizes run small",
            "size_too_small",
            lm.sup == s,
            p0,
            prof0,
        )
        del p0, prof0, helped
    home = shape.of("home")
    home_sups = np.flatnonzero(np.isin(cat.sup_cat, home)) if home else []
    if len(home_sups):
        s, placebo_start = _least_gap(lm, day, delivered, home_sups, cat.sup_cat, PLACEBO_STARTS)
        record(
            "INT-PLACEBO",
            placebo_start,
            "supplier",
            cat.sup_ids[s],
            "packaging",
            f"New outer carton for the products of {cat.sup_ids[s]}",
            "damaged_in_transit",
            lm.sup == s,
            lm.p,
            lm.profile,
        )
    shoes = shape.of("shoes")
    if shoes:
        ci = shoes[0]
        record(
            "INT-RECENT",
            RECENT_START,
            "category",
            shape.categories[ci],
            "returns_page",
            f"New returns page for {shape.categories[ci]}",
            None,
            od.ln_cat == ci,
            lm.p,
            lm.profile,
        )
    return planted, plan


def thin(rng: np.random.Generator, rt, plan: SimpleNamespace | None) -> None:
    """Drop the returns the interventions prevented from the drawn returns `rt`, in place:
    a form-treated returned line with probability FORM_CUT, then a size-guide-helped line's
    too-small return with its `too_small_drop`; an RMA left without lines goes too. The other
    returns keep every drawn value, so the rest of the shop is exactly what it would have been."""
    if plan is None or len(rt.rl) == 0:
        return
    line = rt.rl
    drop = plan.form[line] & (rng.random(len(line)) < FORM_CUT)
    too_small = rt.reason == W.R["SIZE_TOO_SMALL"]
    drop |= ~drop & too_small & (rng.random(len(line)) < plan.too_small_drop[line])
    rt.returned[line[drop]] = False
    for name in ("rl", "rl_rma", "qty", "reason", "text", "condition", "disposition", "refund_c"):
        setattr(rt, name, getattr(rt, name)[~drop])
    has_lines = np.bincount(rt.rl_rma, minlength=rt.n_rma) > 0
    rt.rl_rma = (np.cumsum(has_lines) - 1)[rt.rl_rma]
    for name in ("rma_order", "requested", "received", "inspected", "refunded", "resolution"):
        setattr(rt, name, getattr(rt, name)[has_lines])
    rt.rma_abuser = rt.rma_abuser[has_lines]
    rt.n_rma = int(has_lines.sum())


def _least_gap(lm, day, delivered, suppliers, sup_cat, starts) -> tuple[int, str]:
    """The supplier and start with the smallest trend gap against the other suppliers of its
    category (first of ties, in the given order)."""
    best, best_gap = (int(suppliers[0]), starts[0]), float("inf")
    line_cat = sup_cat[lm.sup]
    for s in suppliers:
        unit = np.where(line_cat == sup_cat[s], lm.sup, -1)
        for d in starts:
            gap = abs(trend_gap(lm.p, day, delivered, lm.sup == s, unit, d))
            if gap < best_gap:
                best, best_gap = (int(s), d), gap
    return best


def truth(planted: list[dict]) -> dict:
    """The ground truth's "interventions" block: per intervention id, its row and effect."""
    return {
        r["intervention_id"]: {k: v for k, v in r.items() if k != "intervention_id"}
        for r in planted
    }


def write_interventions(wr: Writer, planted: list[dict]) -> None:
    """interventions/interventions.csv; no file when nothing was planted."""
    if not planted:
        return
    cols = ("intervention_id", "start_date", "scope_type", "scope_value", "kind", "description")
    t = pa.table(
        {
            **{c: pa.array([r[c] for r in planted]) for c in cols},
            "target_reason": pa.array([r["target_reason"] for r in planted], pa.string()),
        }
    )
    wr.copy(
        t,
        "select intervention_id, cast(start_date as date) as start_date, scope_type, "
        "scope_value, kind, description, target_reason from src order by intervention_id",
        wr.out / "interventions" / "interventions.csv",
        CSV_OPTS,
        "interventions",
    )
