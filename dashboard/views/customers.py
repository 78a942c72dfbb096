"""Customers & keep-it: the customers whose returns cost the most (by customer hash only) and
the products where letting the customer keep the item costs less than taking it back."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = ("kpi_return_costs_by_customer", "sig_keep_it_advice")
TOP = 50


def costly_customers(limit: int = TOP) -> pd.DataFrame:
    """The most costly customers of the last 365 days (kpi_return_costs_by_customer): the
    customer hash, never personal data."""
    return data.query(
        "select cost_rank, customer_key, order_lines, return_lines, returned_value_eur, "
        "cost_of_returns_eur, margin_lost_to_returns_eur, gross_margin_eur, "
        "net_margin_after_returns_eur, is_risky_customer, risk_score, window_start_date, "
        "window_end_date from marts.kpi_return_costs_by_customer "
        "where cost_rank <= ? order by cost_rank",
        [limit],
    )


def customer_totals() -> pd.DataFrame:
    """All customers of the window: how much of the cost the top customers carry."""
    return data.query(
        "select count(*) as customers, sum(cost_of_returns_eur) as cost_of_returns_eur, "
        "sum(cost_of_returns_eur) filter (where cost_rank <= ?) as top_cost_of_returns_eur, "
        "count(*) filter (where is_risky_customer) as risky_customers, "
        "min(window_start_date) as window_start_date, max(window_end_date) as window_end_date "
        "from marts.kpi_return_costs_by_customer",
        [TOP],
    )


def keep_it_advice(f: ui.Filters) -> pd.DataFrame:
    """Keep-it advice per product (reason 'all', sig_keep_it_advice), advised first, by the
    saving had it been applied."""
    return data.query(
        "select product_id, category, supplier_id, is_keep_it_advised, assessed_lines, "
        "keep_it_saving_per_line_eur, keep_it_saving_eur, saving_if_applied_eur, "
        "risky_customer_lines, return_label_eur, take_back_handling_eur, refurbishment_eur, "
        "value_recovered_eur, goods_at_cost_eur, window_start_date, window_end_date "
        "from marts.sig_keep_it_advice where reason = 'all' "
        "and (? is null or category = ?) and (? is null or supplier_id = ?) "
        "order by is_keep_it_advised desc, saving_if_applied_eur desc, "
        "keep_it_saving_eur desc, product_id",
        [f.category, f.category, f.supplier, f.supplier],
    )


def keep_it_by_reason(f: ui.Filters) -> pd.DataFrame:
    """Keep-it advice per product x reason of the advised-or-not products of the selection."""
    return data.query(
        "select product_id, reason, category, supplier_id, is_keep_it_advised, assessed_lines, "
        "keep_it_saving_per_line_eur, saving_if_applied_eur, risky_customer_lines "
        "from marts.sig_keep_it_advice where reason <> 'all' "
        "and (? is null or category = ?) and (? is null or supplier_id = ?) "
        "order by is_keep_it_advised desc, saving_if_applied_eur desc, product_id, reason",
        [f.category, f.category, f.supplier, f.supplier],
    )


def _customers_section() -> None:
    st.subheader("The most costly customers")
    top = costly_customers()
    totals = customer_totals()
    if top.empty:
        st.info("No customers with orders in the last 365 days.")
        return
    t = totals.iloc[0]
    st.caption(
        f"Customers by what their returns cost, orders from {t['window_start_date']:%Y-%m-%d} "
        f"to {t['window_end_date']:%Y-%m-%d}. Customers appear by their salted hash only; "
        "the risk flag comes from the abuse signals of the review queue."
    )
    share = (
        float(t["top_cost_of_returns_eur"]) / float(t["cost_of_returns_eur"])
        if t["cost_of_returns_eur"]
        else None
    )
    cols = st.columns(4)
    cols[0].metric("Customers with orders", ui.num(t["customers"]))
    cols[1].metric("Cost of their returns", ui.eur(t["cost_of_returns_eur"]))
    cols[2].metric(
        f"Share of the top {TOP}",
        ui.pct(share),
        help=f"Cost of returns of the {TOP} most costly customers / all customers'.",
    )
    cols[3].metric("Customers flagged risky", ui.num(t["risky_customers"]))
    shown = top.head(20).assign(
        customer=lambda d: d["cost_rank"].astype(str) + ". " + d["customer_key"].str[:12],
        risk=lambda d: d["is_risky_customer"].map({True: "risky", False: "not flagged"}),
        cost=lambda d: d["cost_of_returns_eur"].astype(float),
        net=lambda d: d["net_margin_after_returns_eur"].astype(float),
    )
    ui.chart(
        alt.Chart(shown)
        .mark_bar()
        .encode(
            y=alt.Y("customer:N", title=None, sort=None),
            x=alt.X("cost:Q", title=f"Cost of returns ({ui.currency()})"),
            color=alt.Color(
                "risk:N",
                title="",
                scale=alt.Scale(domain=["risky", "not flagged"], range=["#d32f2f", "#1565c0"]),
            ),
            tooltip=[
                "customer:N",
                alt.Tooltip("cost:Q", format=",.2f", title="cost of returns"),
                alt.Tooltip("net:Q", format=",.2f", title="net margin after returns"),
                "return_lines:Q",
                "risk_score:Q",
            ],
        )
        .properties(height=alt.Step(16))
    )
    ui.table(top, "most_costly_customers")


def _keep_it_section(f: ui.Filters) -> None:
    st.subheader("Keep-it advice")
    advice = keep_it_advice(f)
    if advice.empty:
        st.info("No returns judged in the last 90 days for this selection.")
        return
    first = advice.iloc[0]
    st.caption(
        f"Per product, returns requested {first['window_start_date']:%Y-%m-%d} to "
        f"{first['window_end_date']:%Y-%m-%d}: letting the customer keep the item saves the "
        "return label, receiving and inspecting and the refurbishment, and loses what the goods "
        "recovered. Advised at 5 or more lines with a positive saving; never for customers with "
        "abuse signals, whose lines are left out of the saving (docs/kpis.md)."
    )
    advised = advice[advice["is_keep_it_advised"]]
    cols = st.columns(4)
    cols[0].metric("Products advised", ui.num(len(advised)), help="Of the products judged.")
    cols[1].metric(
        "Saving had it been applied",
        ui.eur(advised["saving_if_applied_eur"].sum()),
        help="Over the last 90 days, on the advised products' lines of customers without "
        "abuse signals.",
    )
    cols[2].metric(
        "Saving per line (advised)",
        ui.eur(
            advised["keep_it_saving_eur"].sum() / advised["assessed_lines"].sum()
            if len(advised)
            else None,
            2,
        ),
    )
    cols[3].metric(
        "Lines of risky customers left out",
        ui.num(advised["risky_customer_lines"].sum()),
        help="Lines of the advised products from customers with abuse signals: never kept.",
    )
    if advised.empty:
        st.info("Keep-it is advised for no product of this selection: taking back pays off.")
    else:
        ui.chart(
            alt.Chart(
                advised.head(25).assign(saving=advised["saving_if_applied_eur"].astype(float))
            )
            .mark_bar(color="#2e7d32")
            .encode(
                y=alt.Y("product_id:N", title=None, sort="-x"),
                x=alt.X("saving:Q", title=f"Saving had it been applied ({ui.currency()}, 90 days)"),
                tooltip=[
                    "product_id:N",
                    "category:N",
                    "assessed_lines:Q",
                    alt.Tooltip("keep_it_saving_per_line_eur:Q", format=",.2f"),
                    alt.Tooltip("saving:Q", format=",.2f"),
                    "risky_customer_lines:Q",
                ],
            )
            .properties(height=alt.Step(16))
        )
    ui.table(advice, "keep_it_advice")
    with st.expander("By product and reason"):
        ui.table(keep_it_by_reason(f), "keep_it_advice_by_reason")


def render() -> None:
    """Draw the page."""
    ui.page("Customers & keep-it", NEEDS)
    f = ui.filters(period=False, slices=("category", "supplier"))
    _customers_section()
    _keep_it_section(f)


if __name__ == "__main__":
    render()
