"""sig_intervention_effects on the e2e demo shop (the session's `pipeline_run`, no run of its own).

The generator plants interventions with a known effect (returnlens/demo/interventions.py): a
clearer return form for apparel, a size-guide fix for a small-sizing supplier, a placebo and
one too recent to judge. Two kinds of check:

- the planted truth (ground_truth.json) lies inside each estimated interval, the placebo's
  intervals contain zero, the recent one is too early to tell;
- the mart's arithmetic equals a difference-in-differences computed here from the landing CSV
  files with Python's csv module (order weeks, treated and control scopes, the exclusion of
  control lines only another intervention touches, the binomial standard error; docs/kpis.md).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration

WINDOW_WEEKS = 8  # dbt var intervention_window_weeks (default)
Z = 1.96  # dbt var intervention_confidence_z (default)
RETURN_WINDOW_DAYS = 30  # the demo profile's return window


def _csv(files: list[Path]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for f in files:
        with f.open(encoding="utf-8", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


@pytest.fixture(scope="module")
def effects(pipeline_run) -> dict[tuple[str, str], dict]:
    assert pipeline_run.success
    con = duckdb.connect(str(pipeline_run.serving), read_only=True)
    try:
        cur = con.execute("select * from marts.sig_intervention_effects")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    return {(r["intervention_id"], r["metric"]): r for r in rows}


@pytest.fixture(scope="module")
def truth(pipeline_run) -> dict:
    return json.loads((pipeline_run.landing / "ground_truth.json").read_text())["interventions"]


@pytest.fixture(scope="module")
def landing_lines(pipeline_run) -> list[dict]:
    """Order lines of the landing files with order date, category, supplier, product and
    whether a return names the line."""
    shop = pipeline_run.landing / "shop"
    products = {r["sku"]: r for r in _csv(sorted(shop.glob("products*.csv")))}
    ordered = {
        r["order_id"]: datetime.fromisoformat(r["ordered_at"]).date()
        for r in _csv(sorted(shop.glob("orders_*.csv")))
    }
    returned = {
        r["order_line_id"]
        for r in _csv(sorted((pipeline_run.landing / "returns").glob("returns_*.csv")))
    }
    return [
        {
            "week": _monday(ordered[r["order_id"]]),
            "category": products[r["sku"]]["category"],
            "supplier": products[r["sku"]]["supplier_id"],
            "product": products[r["sku"]]["product_id"],
            "returned": r["order_line_id"] in returned,
        }
        for r in _csv(sorted(shop.glob("order_lines_*.csv")))
    ]


COLUMN = {"category": "category", "supplier": "supplier", "product": "product"}


def _in_scope(line: dict, scope_type: str, value: str) -> bool:
    return scope_type == "all" or line[COLUMN[scope_type]] == value


def _did(lines: list[dict], interventions: list[dict], i: dict) -> tuple[float, float, int]:
    """effect, standard error and number of control scopes of intervention i (docs/kpis.md)."""
    start = date.fromisoformat(i["start_date"])
    pre_from = _monday(start) - timedelta(weeks=WINDOW_WEEKS)
    post_from = start if start.weekday() == 0 else _monday(start) + timedelta(weeks=1)
    post_until = post_from + timedelta(weeks=WINDOW_WEEKS)
    others = [
        o
        for o in interventions
        if o["intervention_id"] != i["intervention_id"]
        and pre_from <= date.fromisoformat(o["start_date"]) < post_until
    ]

    def period(line: dict) -> int | None:  # 0: pre, 2: post
        if pre_from <= line["week"] < _monday(start):
            return 0
        if post_from <= line["week"] < post_until:
            return 2
        return None

    window = [(line, period(line)) for line in lines if period(line) is not None]
    treated = [
        (line, p) for line, p in window if _in_scope(line, i["scope_type"], i["scope_value"])
    ]
    categories = {line["category"] for line, _ in treated}
    # another intervention that also changes treated lines acts on both sides: no exclusion
    others = [
        o
        for o in others
        if not any(_in_scope(line, o["scope_type"], o["scope_value"]) for line, _ in treated)
    ]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n_pre, r_pre, n_post, r_post
    for line, p in treated:
        counts["(treated)"][p] += 1
        counts["(treated)"][p + 1] += line["returned"]
    for line, p in window:
        if _in_scope(line, i["scope_type"], i["scope_value"]):
            continue
        if any(_in_scope(line, o["scope_type"], o["scope_value"]) for o in others):
            continue  # touched by another intervention inside the window
        if i["scope_type"] != "category" and line["category"] not in categories:
            continue  # not comparable
        unit = line[COLUMN[i["scope_type"]]]
        counts[unit][p] += 1
        counts[unit][p + 1] += line["returned"]

    def change(c: list[int]) -> tuple[float, float]:
        r0, r1 = c[1] / c[0], c[3] / c[2]
        return r1 - r0, r0 * (1 - r0) / c[0] + r1 * (1 - r1) / c[2]

    d_t, v_t = change(counts.pop("(treated)"))
    controls = {u: c for u, c in counts.items() if c[0] and c[2]}
    weights = {u: c[0] + c[2] for u, c in controls.items()}
    total = sum(weights.values())
    d_c = sum(weights[u] * change(c)[0] for u, c in controls.items()) / total
    v_c = sum(weights[u] ** 2 * change(c)[1] for u, c in controls.items()) / total**2
    return d_t - d_c, math.sqrt(v_t + v_c), len(controls)


def test_planted_effects_lie_inside_their_intervals_and_the_placebo_at_zero(effects, truth):
    estimated = [k for k, f in truth.items() if f["start_date"] < "2026-09-01"]
    assert {"INT-FORM", "INT-SIZE", "INT-PLACEBO"} <= set(estimated)
    for key in estimated:
        facts = truth[key]["truth"]
        for metric, true_effect in (
            ("return_rate", facts["effect_on_return_rate"]),
            ("target_reason_rate", facts.get("effect_on_target_reason_rate")),
        ):
            if true_effect is None:
                assert (key, metric) not in effects
                continue
            row = effects[(key, metric)]
            assert row["state"] == "estimated", (key, metric, row["state"])
            assert row["effect_lower_95"] <= true_effect <= row["effect_upper_95"], (
                key,
                metric,
                true_effect,
                row["effect_lower_95"],
                row["effect"],
                row["effect_upper_95"],
            )
    for metric in ("return_rate", "target_reason_rate"):
        placebo = effects[("INT-PLACEBO", metric)]
        assert placebo["effect_lower_95"] <= 0 <= placebo["effect_upper_95"], placebo
    # the planted cuts are real: the form's and the size guide's intervals lie below zero
    assert truth["INT-FORM"]["truth"]["effect_on_return_rate"] < -0.02
    assert truth["INT-SIZE"]["truth"]["effect_on_target_reason_rate"] < -0.02


def test_an_intervention_whose_post_cohorts_are_not_mature_is_too_early_to_tell(
    pipeline_run, effects, truth
):
    start = date.fromisoformat(truth["INT-RECENT"]["start_date"])
    # as-of: the latest order or return request in the landing files
    as_of = max(
        datetime.fromisoformat(r[c]).date()
        for folder, pattern, c in (
            ("shop", "orders_*.csv", "ordered_at"),
            ("returns", "returns_*.csv", "requested_at"),
        )
        for r in _csv(sorted((pipeline_run.landing / folder).glob(pattern)))
    )
    mature_on = start + timedelta(weeks=WINDOW_WEEKS, days=7 + RETURN_WINDOW_DAYS)
    assert mature_on > as_of
    row = effects[("INT-RECENT", "return_rate")]
    assert row["state"] == "too_early_to_tell" and row["is_mature"] is False
    assert row["mature_on_date"] == mature_on
    assert row["effect"] is None and row["effect_lower_95"] is None
    assert row["is_significant"] is None
    assert row["treated_lines_pre"] > 0  # the counts are shown all the same


def test_the_mart_is_the_difference_in_differences_of_the_landing_files(
    pipeline_run, effects, landing_lines
):
    interventions = _csv([pipeline_run.landing / "interventions" / "interventions.csv"])
    checked = 0
    for i in interventions:
        row = effects[(i["intervention_id"], "return_rate")]
        if row["state"] != "estimated":
            continue
        effect, se, controls = _did(landing_lines, interventions, i)
        assert row["control_scopes"] == controls, i["intervention_id"]
        assert row["effect"] == pytest.approx(effect, abs=1e-12), i["intervention_id"]
        assert row["effect_standard_error"] == pytest.approx(se, abs=1e-12)
        assert row["effect_lower_95"] == pytest.approx(effect - Z * se, abs=1e-12)
        assert row["pre_cohorts"] == row["post_cohorts"] == WINDOW_WEEKS
        checked += 1
    assert checked >= 3


def test_on_the_larger_demo_shop_the_method_recovers_the_planted_effects(
    demo_landing, ground_truth
):
    """The e2e shop (scale 0.1, ~1,000 apparel lines a window) gives intervals of +/- 5 points;
    the session's generated demo shop (scale 0.3) is three times larger. No pipeline run: the
    difference-in-differences computed from its landing files, the computation the mart equals
    on the e2e shop (test above)."""
    run = type("Landing", (), {"landing": demo_landing})
    lines = landing_lines.__wrapped__(run)
    interventions = _csv([demo_landing / "interventions" / "interventions.csv"])
    truth = ground_truth["interventions"]
    for i in interventions:
        if i["intervention_id"] not in ("INT-FORM", "INT-SIZE", "INT-PLACEBO"):
            continue
        effect, se, controls = _did(lines, interventions, i)
        true_effect = truth[i["intervention_id"]]["truth"]["effect_on_return_rate"]
        assert controls >= 2
        assert effect - Z * se <= true_effect <= effect + Z * se, (i, effect, se, true_effect)
        assert se < 0.04  # tighter than on the e2e shop
    assert truth["INT-PLACEBO"]["truth"]["effect_on_return_rate"] == 0.0
