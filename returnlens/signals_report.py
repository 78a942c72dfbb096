"""Print how well the signal marts recover the demo shop's planted signals.

    .venv/bin/python -m returnlens.signals_report [--serving PATH] [--truth PATH] [--json]

Reads the published serving database (read-only) and the demo shop's `ground_truth.json`
(default: `<landing>/ground_truth.json`). Every figure comes from the marts; the ground truth
only says what should be found. `signal_figures` returns the same numbers as a dict for tests.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from pathlib import Path

import duckdb

from returnlens.config import settings


def customer_key(customer_id: str, salt: str | None = None) -> str:
    """The pseudonymous key the warehouse gives a customer id (see macro hash_customer_id)."""
    salt = settings().pii_salt if salt is None else salt
    return hashlib.sha256((salt + customer_id).encode()).hexdigest()


def _rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _hesitation(con, truth: dict) -> dict:
    rates = [
        r[0]
        for r in _rows(
            con,
            "select return_rate from marts.sig_return_rate_by_behaviour_band "
            "where behaviour = 'decision_time' and category = 'all' order by band",
        )
    ]
    lines = _rows(
        con,
        "select min(order_lines) from marts.sig_return_rate_by_behaviour_band "
        "where behaviour = 'decision_time' and category = 'all'",
    )[0][0]
    h = truth["signals"]["hesitation"]
    ratio = rates[-1] / rates[0] if rates and rates[0] else None
    expected = h["expected_ratio_top_vs_bottom_decision_time_decile"]
    bracket = dict(
        _rows(
            con,
            "select band, return_rate from marts.sig_return_rate_by_behaviour_band "
            "where behaviour = 'bracketing' and category = 'all'",
        )
    )
    return {
        "decision_time_decile_rates": [round(r, 4) for r in rates],
        "decision_time_lines_per_decile": lines,
        "decision_time_rises": sum(b > a for a, b in itertools.pairwise(rates)),
        "decision_time_ratio_top_vs_bottom": round(ratio, 3) if ratio else None,
        "expected_ratio_top_vs_bottom": expected,
        "ratio_vs_expected": round(ratio / expected, 3) if ratio else None,
        "bracketing_ratio": round(bracket[1] / bracket[0], 3) if bracket.get(0) else None,
        "expected_bracketing_ratio": h["expected_ratio_bracketing"],
    }


def _quality(con, truth: dict) -> dict:
    small = set(truth["signals"]["small_sizing"]["small_sizing_supplier_ids"])
    defective = set(truth["signals"]["defective_batches"]["defective_batch_ids"])
    defective_products = {b["product_id"] for b in truth["signals"]["defective_batches"]["batches"]}
    batch_rows = _rows(con, "select batch_id, product_id, supplier_id from marts.sig_batch_quality")
    defective_suppliers = {s for b, _, s in batch_rows if b in defective}
    product_supplier = dict(
        _rows(con, "select product_id, supplier_id from marts.sig_product_quality")
    )
    alerts = _rows(
        con,
        "select alert_id, subject_level, subject_id, alert_rule from marts.sig_quality_alerts "
        "order by alert_id",
    )
    sizing = {"runs_small", "return_rate"}
    defects = {"defect_damage", "return_rate"}

    def explained(level: str, subject: str, rule: str) -> bool:
        if level == "batch":
            return subject in defective and rule in defects
        if level == "supplier":
            return (subject in small and rule in sizing) or (
                subject in defective_suppliers and rule in defects
            )
        return (product_supplier.get(subject) in small and rule in sizing) or (
            subject in defective_products and rule in defects
        )

    false_alarms = [a for a, lvl, s, r in alerts if not explained(lvl, s, r)]
    flagged_small = {s for _, lvl, s, r in alerts if lvl == "supplier" and r == "runs_small"}
    flagged_batches = {
        s for _, lvl, s, r in alerts if lvl == "batch" and r in ("defect_damage", "return_rate")
    }
    return {
        "alerts": len(alerts),
        "alerts_by_level": {
            lvl: sum(1 for a in alerts if a[1] == lvl) for lvl in ("supplier", "product", "batch")
        },
        "small_sizing_suppliers_planted": sorted(small),
        "small_sizing_suppliers_flagged": sorted(flagged_small),
        "small_sizing_suppliers_missed": sorted(small - flagged_small),
        "defective_batches_planted": sorted(defective),
        "defective_batches_flagged": sorted(flagged_batches & defective),
        "defective_batches_missed": sorted(defective - flagged_batches),
        "false_alarms": len(false_alarms),
        "false_alarm_ids": false_alarms,
        "subjects_tested": {
            lvl: _rows(con, f"select count(*) from marts.sig_{lvl}_quality")[0][0]
            for lvl in ("supplier", "product", "batch")
        },
    }


def _forecasts(con) -> dict:
    wape = _rows(
        con,
        "select product_group, max(gross_wape), max(return_aware_wape), count(*) "
        "from marts.sig_forecast_backtest group by 1 order by 1",
    )
    by_cat = _rows(
        con,
        """
        select category,
            sum(gross_abs_error) / sum(actual_net_units),
            sum(return_aware_abs_error) / sum(actual_net_units)
        from marts.sig_forecast_backtest where product_group <> 'all' group by 1 order by 1
        """,
    )
    season = dict(
        (r[0], (r[1], r[2]))
        for r in _rows(
            con,
            """
            select category,
                avg(expected_return_rate) filter (where month(week_start_date) in (4, 5, 6, 7)),
                avg(expected_return_rate) filter (where month(week_start_date) in (12, 1))
            from marts.sig_return_aware_forecasts where category in ('garden', 'apparel')
            group by 1
            """,
        )
    )
    overall = next((w for w in wape if w[0] == "all"), None)
    return {
        "backtest_weeks": overall[3] if overall else 0,
        "wape_gross_all": round(overall[1], 4) if overall else None,
        "wape_return_aware_all": round(overall[2], 4) if overall else None,
        "wape_by_category": {c: (round(g, 4), round(r, 4)) for c, g, r in by_cat},
        "groups_improved": sum(1 for w in wape if w[0] != "all" and w[2] < w[1]),
        "groups": sum(1 for w in wape if w[0] != "all"),
        "seasonal_expected_return_rate": {
            c: {"apr_jul": round(a, 4), "dec_jan": round(b, 4)} for c, (a, b) in season.items()
        },
    }


def _abusers(con, truth: dict) -> dict:
    ids = truth["signals"]["abusers"]["abuser_customer_ids_with_orders"]
    keys = {customer_key(i) for i in ids}
    risk = _rows(con, "select customer_key, is_risky from marts.sig_customer_return_risk")
    flagged = {k for k, r in risk if r}
    known = {k for k, _ in risk}
    abusers = keys & known
    queue = _rows(
        con,
        "select customer_key, bool_or(route_to_review), bool_or(is_risky_customer) "
        "from marts.sig_review_queue group by 1",
    )
    with_open = {k for k, _, _ in queue}
    routed = {k for k, r, _ in queue if r}
    routed_risky = {k for k, _, rr in queue if rr}
    open_abusers = abusers & with_open

    def ratio(a: int, b: int):
        return round(a / b, 3) if b else None

    return {
        "abusers_with_orders": len(abusers),
        "risk_flagged_customers": len(flagged),
        "risk_flag_recall": ratio(len(flagged & abusers), len(abusers)),
        "risk_flag_precision": ratio(len(flagged & abusers), len(flagged)),
        "customers_with_open_returns": len(with_open),
        "abusers_with_open_returns": len(open_abusers),
        "queue_recall": ratio(len(routed & open_abusers), len(open_abusers)),
        "queue_precision_risky_rule": ratio(len(routed_risky & abusers), len(routed_risky)),
        "customers_routed_as_risky": len(routed_risky),
    }


def signal_figures(serving: Path, truth: dict) -> dict:
    """All recovered-signal figures from the serving database, next to the ground truth."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        return {
            "hesitation": _hesitation(con, truth),
            "quality": _quality(con, truth),
            "forecast": _forecasts(con),
            "abusers": _abusers(con, truth),
        }
    finally:
        con.close()


def format_report(fig: dict) -> str:
    """The figures as a short text report."""
    h, q, f, a = fig["hesitation"], fig["quality"], fig["forecast"], fig["abusers"]
    lines = [
        "1. Behaviour -> returns (decision-time deciles, all categories)",
        f"   return rate by decile: {h['decision_time_decile_rates']}",
        f"   rises {h['decision_time_rises']}/9; top/bottom ratio "
        f"{h['decision_time_ratio_top_vs_bottom']} vs expected {h['expected_ratio_top_vs_bottom']}"
        f" ({h['ratio_vs_expected']}x); bracketing ratio {h['bracketing_ratio']} vs expected "
        f"{h['expected_bracketing_ratio']}",
        "2. Returns as quality feedback",
        f"   small-sizing suppliers planted {q['small_sizing_suppliers_planted']}, flagged "
        f"{q['small_sizing_suppliers_flagged']}, missed {q['small_sizing_suppliers_missed']}",
        f"   defective batches planted {q['defective_batches_planted']}, flagged "
        f"{q['defective_batches_flagged']}, missed {q['defective_batches_missed']}",
        f"   open alerts {q['alerts']} {q['alerts_by_level']} over subjects tested "
        f"{q['subjects_tested']}; false alarms (not explained by ground truth) "
        f"{q['false_alarms']}: {q['false_alarm_ids']}",
        "3. Returns in demand planning (backtest on net demand)",
        f"   WAPE all groups: gross {f['wape_gross_all']} vs return-aware "
        f"{f['wape_return_aware_all']} over {f['backtest_weeks']} weeks; groups improved "
        f"{f['groups_improved']}/{f['groups']}",
        f"   by category (gross, return-aware): {f['wape_by_category']}",
        f"   seasonal expected return rate: {f['seasonal_expected_return_rate']}",
        "4. Manual-review queue",
        f"   risk flag: {a['risk_flagged_customers']} customers flagged; recall "
        f"{a['risk_flag_recall']}, precision {a['risk_flag_precision']} over "
        f"{a['abusers_with_orders']} planted abusers with orders",
        f"   queue: {a['customers_with_open_returns']} customers with open returns, "
        f"{a['abusers_with_open_returns']} of them abusers; recall {a['queue_recall']}, "
        f"precision of the risky-customer rule {a['queue_precision_risky_rule']} "
        f"({a['customers_routed_as_risky']} customers routed as risky)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg = settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serving", type=Path, default=cfg.serving)
    parser.add_argument("--truth", type=Path, default=cfg.landing_dir / "ground_truth.json")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    truth = json.loads(args.truth.read_text(encoding="utf-8"))
    fig = signal_figures(args.serving, truth)
    print(json.dumps(fig, indent=2) if args.json else format_report(fig))  # noqa: T201


if __name__ == "__main__":
    main()
