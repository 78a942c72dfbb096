"""The real pipeline on a platform layout against the native layout, every mart: the runs, the
mart fingerprints and the differences each layout is expected to show.

`test_layout_marts_returns_platforms.py` (bol.com, Sendcloud) and `test_layout_marts_shops.py`
(Shopify connector tables and admin export, WooCommerce) compare each layout with one native
run that both modules share (`native_warehouse` in tests/integration/conftest.py: made once
per `make test`, even across its two processes). By hand: `compare_marts(layout, workdir)`.

Each run is `returnlens run` in a subprocess with its own data folder (RETURNLENS_DATA_DIR,
RETURNLENS_LANDING_DIR, DAGSTER_HOME), on the demo shop of the same seed written natively and
in the layout (`returnlens generate --layout`), and must publish (exit code 0, "published:
yes"): the pipeline on each layout publishes.

A mart is compared by a fingerprint that does not depend on how the platform names things (ids
are renumbered by every layout, so are the customer hashes): its row count, and per column the
sum of a number, the count of true of a boolean, the number of distinct values and of nulls of
anything else. Equal fingerprints mean the same figures; the tests list, per layout, the marts
that differ and why (EXPECTED_DIFFERENCES, from docs/sources/<platform>.md "What the generated
layout lacks"), and every other mart must be equal.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from returnlens.warehouse import quote_ident as qi

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SEED, SCALE = 11, 0.05
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL")

# why marts differ, per layout: cause -> the marts it changes (measured at seed 11, scale 0.05:
# every mart listed differs, every other mart is equal; a mart changed by several causes is
# listed under each; the causes are the columns docs/sources/<platform>.md lists under "What
# the generated layout lacks")
FILES = "the landing files differ (platform files instead of native CSVs: paths, sizes, entities)"
NO_REFUND = "no refund time or amount from the platform (refunded EUR, refund speed, margin)"
NO_INSPECTION = (
    "no inspection, condition grade or disposition (restockable units, worn/empty share, "
    "keep-it assessment, refurbishment cost)"
)
OUTCOMES = "the platform's outcomes and statuses (no store credit, exchange or keep-it; states)"
TIMES = "fewer processing timestamps (steps measured, lines with processing timestamps)"
TEXTS = "the platform's reason texts precede the customer's"
PER_ITEM = "bol.com keys each item (rmaId): a multi-line return counts as several RMAs"
ENUM = "Shopify's reason enum: transit damage -> DEFECTIVE, late delivery -> OTHER"
NO_BATCH = "no production batches on the order lines"
NO_SESSION = "orders name no web session and carry no delivery time"
REFUNDS_ONLY = (
    "only refunded returns exist, requested at the refund, without reason codes, return "
    "events or inspection"
)
CHANNEL = "every order is web"
RETURN_KPIS = (
    "kpi_loyalty_after_returns",
    "kpi_nps",
    "kpi_return_costs",
    "kpi_return_costs_by_customer",
    "kpi_return_rates_by_order_cohort",
    "kpi_returns_by_request_date",
    "kpi_weekly_returns_by_category",
    "sig_quality_alerts",
)
BATCH_MARTS = ("dim_batches", "fct_order_lines", "rpt_referential_integrity", "sig_batch_quality")
SESSION_MARTS = (
    "fct_order_lines",
    "sig_customer_return_risk",
    "sig_purchase_journeys",
    "sig_return_rate_by_behaviour_band",
)
CAUSES: dict[str, dict[str, tuple[str, ...]]] = {
    "sendcloud": {
        FILES: ("rpt_load_audit",),
        NO_REFUND: (
            "dim_customers",
            "fct_nps_responses",
            "fct_order_lines",
            "fct_return_costs",
            "fct_returns",
            *RETURN_KPIS,
        ),
        NO_INSPECTION: (
            "fct_return_costs",
            "fct_returns",
            "sig_customer_return_risk",
            "sig_keep_it_advice",
            "sig_return_aware_forecasts",
            "sig_review_queue",
        ),
        OUTCOMES: (
            "fct_order_lines",
            "fct_return_costs",
            "fct_returns",
            "kpi_return_outcomes",
            "rpt_return_states",
            "sig_review_queue",
            "kpi_loyalty_after_returns",
        ),
        TIMES: ("kpi_return_processing_times", "rpt_source_availability"),
        TEXTS: ("fct_returns", "rpt_unmapped_reason_texts"),
    },
    "bol": {
        FILES: ("rpt_load_audit",),
        NO_REFUND: (
            "dim_customers",
            "fct_nps_responses",
            "fct_order_lines",
            "fct_return_costs",
            *RETURN_KPIS,
            "fct_returns",
        ),
        NO_INSPECTION: (
            "fct_return_costs",
            "fct_returns",
            "sig_customer_return_risk",
            "sig_keep_it_advice",
            "sig_return_aware_forecasts",
            "sig_review_queue",
        ),
        PER_ITEM: (
            "dim_customers",
            "fct_return_costs",
            "fct_returns",
            "sig_customer_return_risk",
            "sig_review_queue",
        ),
        OUTCOMES: (
            "fct_order_lines",
            "fct_return_costs",
            "fct_returns",
            "kpi_return_outcomes",
            "rpt_return_states",
            "sig_review_queue",
            "kpi_loyalty_after_returns",
        ),
        TIMES: (
            "kpi_return_processing_times",
            "rpt_source_availability",
            "fct_returns",
        ),
        TEXTS: ("fct_returns", "rpt_unmapped_reason_texts"),
    },
    "shopify": {
        FILES: ("rpt_load_audit", "rpt_source_availability"),
        NO_BATCH: BATCH_MARTS,
        NO_SESSION: SESSION_MARTS,
        ENUM: (
            "fct_order_lines",
            "fct_return_costs",
            "fct_returns",
            "kpi_reason_mix",
            "sig_intervention_effects",
            "sig_keep_it_advice",
            "sig_product_quality",
            "kpi_loyalty_after_returns",
        ),
        OUTCOMES: (
            "fct_order_lines",
            "fct_return_costs",
            "fct_returns",
            "kpi_loyalty_after_returns",
            "kpi_return_outcomes",
            "kpi_returns_by_request_date",
            "sig_review_queue",
        ),
        NO_INSPECTION: (
            "fct_return_costs",
            "fct_returns",
            "kpi_return_costs",
            "kpi_return_costs_by_customer",
            "sig_customer_return_risk",
            "sig_keep_it_advice",
            "sig_quality_alerts",
            "sig_return_aware_forecasts",
            "sig_review_queue",
        ),
        TIMES: ("fct_returns", "kpi_return_processing_times", "sig_review_queue"),
    },
    "shopify-admin-export": {
        FILES: ("rpt_load_audit", "rpt_source_availability"),
        NO_BATCH: BATCH_MARTS,
        # the delivery-to-request days feed the customer risk and what reads it
        NO_SESSION: (*SESSION_MARTS, "kpi_return_costs_by_customer", "sig_review_queue"),
    },
    "woocommerce": {
        FILES: ("rpt_load_audit", "rpt_source_availability"),
        NO_BATCH: BATCH_MARTS,
        NO_SESSION: SESSION_MARTS,
        CHANNEL: (
            "fct_nps_responses",
            "fct_order_lines",
            "rpt_profile_values",
            "sig_purchase_journeys",
        ),
        REFUNDS_ONLY: (
            "dim_customers",
            "fct_nps_responses",
            "fct_order_lines",
            "fct_return_costs",
            "fct_returns",
            "kpi_reason_mix",
            "kpi_return_outcomes",
            "kpi_return_processing_times",
            "rpt_return_completeness",
            "rpt_return_states",
            "rpt_source_availability",
            "sig_customer_return_risk",
            "sig_forecast_backtest",
            "sig_intervention_effects",
            "sig_keep_it_advice",
            "sig_product_quality",
            "sig_return_aware_forecasts",
            "sig_review_queue",
            "sig_supplier_quality",
            *RETURN_KPIS,
        ),
    },
}
EXPECTED_DIFFERENCES: dict[str, dict[str, tuple[str, ...]]] = {
    layout: {
        mart: tuple(cause for cause, marts in causes.items() if mart in marts)
        for mart in sorted({m for marts in causes.values() for m in marts})
    }
    for layout, causes in CAUSES.items()
}


def run_pipeline(layout: str, workdir: Path, seed: int = SEED, scale: float = SCALE) -> Path:
    """Generate the demo shop in `layout` under `workdir/layout` and run the main job on it;
    the warehouse file. The run must publish (its log is `workdir/layout/run.log`)."""
    data = workdir / layout
    landing = data / "landing"
    env = {
        **os.environ,
        "RETURNLENS_DATA_DIR": str(data),
        "RETURNLENS_LANDING_DIR": str(landing),
        "DAGSTER_HOME": str(data / "dagster_home"),
    }
    for k in ("RETURNLENS_WAREHOUSE", "RETURNLENS_SERVING"):
        env.pop(k, None)
    gen = [str(BIN / "returnlens"), "generate", "--seed", str(seed), "--scale", str(scale)]
    subprocess.run([*gen, "--out", str(landing), "--layout", layout], check=True, env=env)
    run = subprocess.run(
        [str(BIN / "returnlens"), "run"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    (data / "run.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0 and "published: yes" in run.stdout, (
        f"{layout}: the run did not publish (exit code {run.returncode}):\n"
        + (run.stdout + run.stderr)[-3000:]
    )
    return data / "warehouse.duckdb"


def fingerprints(warehouse: Path) -> dict[str, dict[str, object]]:
    """Per mart of the warehouse's `marts` schema: rows and a figure per column."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marts = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' "
                "order by table_name"
            ).fetchall()
        ]
        out = {}
        for mart in marts:
            cols = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = 'marts' and table_name = ? order by column_index",
                [mart],
            ).fetchall()
            exprs = ["count(*)"]
            for name, dtype in cols:
                c = qi(name)
                if dtype.startswith(NUMERIC):
                    exprs.append(f"round(sum(cast({c} as double)), 4)")
                elif dtype == "BOOLEAN":
                    exprs.append(f"count(*) filter (where {c})")
                else:
                    exprs.append(
                        f"count(distinct {c}) || '/' || count(*) filter (where {c} is null)"
                    )
            row = con.execute(f"select {', '.join(exprs)} from marts.{qi(mart)}").fetchone()
            out[mart] = dict(zip(["rows", *(n for n, _ in cols)], row, strict=True))
        return out
    finally:
        con.close()


def _same(a: object, b: object) -> bool:
    """Equal figures; sums of doubles to 1e-6 relative (DuckDB adds them in thread order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-3)
    return a == b


def differences(native: Path, theirs: Path) -> dict[str, list]:
    """Per mart whose fingerprint differs between two warehouses: (column, native, theirs)."""
    want, got = fingerprints(native), fingerprints(theirs)
    diffs = {}
    for mart in sorted(set(want) | set(got)):
        a, b = want.get(mart, {}), got.get(mart, {})
        cols = [
            (c, a.get(c), b.get(c))
            for c in dict.fromkeys([*a, *b])
            if not _same(a.get(c), b.get(c))
        ]
        if cols:
            diffs[mart] = cols
    return diffs


def compare_marts(layout: str, workdir: Path, native: Path | None = None) -> dict[str, list]:
    """Run native (unless its warehouse is given) and `layout`; per mart that differs, the
    columns whose figures differ as (column, native, layout)."""
    native = native or run_pipeline("native", workdir)
    return differences(native, run_pipeline(layout, workdir))


def check_layout(layout: str, native: Path, workdir: Path) -> None:
    """Every mart of `layout`'s run equals the native run's but the listed ones, which differ."""
    diffs = compare_marts(layout, workdir, native)
    expected = EXPECTED_DIFFERENCES.get(layout, {})
    assert set(diffs) == set(expected), {
        "differ, not listed": {m: diffs[m][:3] for m in sorted(set(diffs) - set(expected))},
        "listed, equal": sorted(set(expected) - set(diffs)),
    }
