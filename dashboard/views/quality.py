"""Quality: open alerts with their evidence and the cost behind them, supplier sizing skew,
supplier → product → batch."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = ("sig_quality_alerts", "sig_supplier_quality", "sig_product_quality", "sig_batch_quality")
QUALITY_COLUMNS = (
    "order_lines, returned_lines, return_lines, return_rate, return_rate_lower_95, "
    "return_rate_upper_95, baseline_return_rate, defect_damage_rate, baseline_defect_damage_rate, "
    "too_small_share, too_large_share, top_reasons, open_alerts"
)


def _where(f: ui.Filters, alias: str = "") -> tuple[str, list]:
    clauses, params = ["true"], []
    if f.category is not None:
        clauses.append(f"{alias}category = ?")
        params.append(f.category)
    if f.supplier is not None:
        clauses.append(f"{alias}supplier_id = ?")
        params.append(f.supplier)
    return " and ".join(clauses), params


def alerts(f: ui.Filters) -> pd.DataFrame:
    """Open quality alerts (sig_quality_alerts), most severe and strongest first."""
    where, params = _where(f)
    return data.query(
        f"select * from marts.sig_quality_alerts where {where} "
        "order by severity = 'high' desc, lift desc nulls last, alert_id",
        params,
    )


def suppliers(f: ui.Filters) -> pd.DataFrame:
    """Supplier quality per category with the sizing skew (sig_supplier_quality)."""
    where, params = _where(f)
    return data.query(
        "select supplier_id, supplier_name, category, sizing_skew, "
        f"{QUALITY_COLUMNS} from marts.sig_supplier_quality where {where} "
        "order by supplier_id, category",
        params,
    )


def products(supplier_id: str, category: str | None) -> pd.DataFrame:
    """Products of one supplier (sig_product_quality)."""
    return data.query(
        "select product_id, product_name, category, subcategory, "
        f"{QUALITY_COLUMNS} from marts.sig_product_quality "
        "where supplier_id = ? and (? is null or category = ?) "
        "order by open_alerts desc, return_rate desc, product_id",
        [supplier_id, category, category],
    )


def batches(product_id: str) -> pd.DataFrame:
    """Production batches of one product (sig_batch_quality)."""
    return data.query(
        "select batch_id, received_date, "
        f"{QUALITY_COLUMNS} from marts.sig_batch_quality where product_id = ? "
        "order by received_date, batch_id",
        [product_id],
    )


def _interval_chart(df: pd.DataFrame, label: str, title: str) -> alt.Chart:
    """Return rate with its 95 % interval against the baseline, one row per subject."""
    base = alt.Chart(df).encode(y=alt.Y(f"{label}:N", title=None, sort=None))
    rule = base.mark_rule(color="#546e7a").encode(
        x=alt.X("return_rate_lower_95:Q", title=title, axis=alt.Axis(format="%")),
        x2="return_rate_upper_95:Q",
    )
    point = base.mark_point(filled=True, size=60).encode(
        x="return_rate:Q",
        color=alt.condition("datum.open_alerts > 0", alt.value("#d32f2f"), alt.value("#1565c0")),
        tooltip=[
            f"{label}:N",
            alt.Tooltip("return_rate:Q", format=".1%"),
            alt.Tooltip("return_rate_lower_95:Q", format=".1%", title="lower 95%"),
            alt.Tooltip("return_rate_upper_95:Q", format=".1%", title="upper 95%"),
            alt.Tooltip("baseline_return_rate:Q", format=".1%", title="baseline"),
            "order_lines:Q",
            "open_alerts:Q",
            "top_reasons:N",
        ],
    )
    tick = base.mark_tick(color="#ff8f00", thickness=2).encode(x="baseline_return_rate:Q")
    return (rule + point + tick).properties(height=max(120, 22 * len(df)))


def _exports() -> None:
    folder = data.exports_dir() / "quality_alerts"
    index = data.alert_export_index()
    if index.empty:
        st.info(
            f"No per-supplier exports in `{folder}` yet: the pipeline writes them with the "
            f"quality alerts. {ui.RUN_HINT}"
        )
        return
    labels = {
        i: f"{row.supplier_id} · "
        + (row.supplier_name if row.has_supplier != "false" else "no supplier record")
        + f" ({row.alerts} alerts)"
        for i, row in enumerate(index.itertuples())
    }
    chosen = index.iloc[
        st.selectbox(
            "Supplier export", list(labels), format_func=labels.__getitem__, key="quality_export"
        )
    ]
    cols = st.columns(2)
    for col, name, mime in (
        (cols[0], chosen.csv_file, "text/csv"),
        (cols[1], chosen.json_file, "application/json"),
    ):
        path = folder / name
        if path.is_file():
            col.download_button(
                f"Download {name}",
                path.read_bytes(),
                file_name=name,
                mime=mime,
                key=f"dl_quality_export_{mime}",
            )


def render() -> None:
    """Draw the page."""
    ui.page("Quality signals", NEEDS)
    f = ui.filters(period=False, slices=("category", "supplier"))
    st.caption(
        "Products, suppliers and batches whose returns stand out from their peers: rates with "
        "95 % Wilson intervals against a baseline that leaves the subject out."
    )

    st.subheader("Open alerts")
    al = alerts(f)
    cols = st.columns(4)
    cols[0].metric("Open alerts", ui.num(len(al)))
    cols[1].metric("High severity", ui.num((al.get("severity") == "high").sum()))
    no_batches = bool(ui.unavailable(["sig_batch_quality"]))
    for i, level in enumerate(("supplier", "batch"), start=2):
        count = (al.get("subject_level") == level).sum()
        cols[i].metric(
            f"{level.capitalize()} alerts",
            "—" if level == "batch" and no_batches else ui.num(count),
            help="No production batches delivered." if level == "batch" and no_batches else None,
        )
    if al.empty:
        st.success("No open quality alerts for this selection.")
    else:
        shown = [
            c
            for c in (
                "severity",
                "what",
                "subject_level",
                "subject_name",
                "rule_cost_of_returns_eur",
                "cost_of_returns_eur",
                "margin_lost_to_returns_eur",
                "evidence",
                "action_owner",
                "supplier_name",
                "category",
                "since_week_start_date",
                "lift",
                "rate",
                "baseline_rate",
                "trials",
                "subject_id",
                "alert_id",
            )
            if c in al.columns
        ]
        if "cost_of_returns_eur" in al.columns:
            st.caption(
                "The cost behind each alert: `rule_cost_of_returns_eur` is what the returns its "
                "rule counts cost (all returns for a return-rate alert; defect/damage or "
                "size returns for the others), `cost_of_returns_eur` and "
                "`margin_lost_to_returns_eur` what all returns of the subject's order lines "
                f"cost and the margin they lost ({ui.currency()}, every order week to date, as "
                "the evidence). A supplier's alert includes its products' returns, so do not "
                "add alerts up. Shop internal: not in the supplier exports."
            )
        ui.table(al[shown], "quality_alerts")
    _exports()

    st.subheader("Supplier sizing skew")
    st.caption(
        "(too small - too large) share of return lines, minus the same for the category: "
        "> 0 runs small, < 0 runs large."
    )
    sup = suppliers(f)
    skew = sup.dropna(subset=["sizing_skew"]).assign(
        supplier=lambda d: d["supplier_id"] + " · " + d["supplier_name"].fillna(""),
        runs=lambda d: d["sizing_skew"].map(lambda v: "runs small" if v > 0 else "runs large"),
    )
    if skew.empty:
        st.info("No sized products for this selection.")
    else:
        ui.chart(
            alt.Chart(skew)
            .mark_bar()
            .encode(
                y=alt.Y("supplier:N", title=None, sort="-x"),
                x=alt.X("sizing_skew:Q", title="Sizing skew", axis=alt.Axis(format="+%")),
                color=alt.Color(
                    "runs:N",
                    title="",
                    scale=alt.Scale(
                        domain=["runs small", "runs large"], range=["#e53935", "#1e88e5"]
                    ),
                ),
                row=alt.Row("category:N", title=None),
                tooltip=[
                    "supplier:N",
                    "category:N",
                    alt.Tooltip("sizing_skew:Q", format="+.1%"),
                    alt.Tooltip("too_small_share:Q", format=".1%"),
                    alt.Tooltip("too_large_share:Q", format=".1%"),
                    "return_lines:Q",
                ],
            )
            .properties(height=alt.Step(16))
            .resolve_scale(y="independent")
        )
    ui.download(sup, "supplier_quality")

    st.subheader("Drill down: supplier → product → batch")
    if sup.empty:
        st.info("No suppliers for this selection.")
        return
    options = sup.drop_duplicates("supplier_id")
    supplier_id = st.selectbox(
        "Supplier",
        options["supplier_id"].tolist(),
        format_func=dict(
            zip(
                options["supplier_id"],
                options["supplier_id"] + " · " + options["supplier_name"].fillna(""),
                strict=True,
            )
        ).get,
        key="quality_supplier",
    )
    prod = products(supplier_id, f.category)
    if prod.empty:
        st.info("No products with sales for this supplier.")
        return
    prod = prod.assign(product=prod["product_id"] + " · " + prod["product_name"].fillna(""))
    ui.chart(_interval_chart(prod.head(40), "product", "Return rate (95% interval), baseline tick"))
    ui.table(prod.drop(columns="product"), f"products_{supplier_id}")
    product_id = st.selectbox(
        "Product",
        prod["product_id"].tolist(),
        format_func=dict(zip(prod["product_id"], prod["product"], strict=True)).get,
        key="quality_product",
    )
    if ui.not_available(["sig_batch_quality"]):
        return
    bat = batches(product_id)
    if bat.empty:
        st.info("No batches with sales for this product.")
        return
    ui.chart(_interval_chart(bat, "batch_id", "Batch return rate (95% interval), baseline tick"))
    ui.table(bat, f"batches_{product_id}")


if __name__ == "__main__":
    render()
