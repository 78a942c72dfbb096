"""Customers & keep-it: the customers whose returns cost the most (by customer hash only),
the products where letting the customer keep the item costs less than taking it back, whether
customers order again after a return (by return experience, mature cohorts only) and how
returns ended over time (the outcome mix)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = (
    "kpi_return_costs_by_customer",
    "sig_keep_it_advice",
    "kpi_loyalty_after_returns",
    "kpi_return_outcomes",
)
TOP = 50
SMALL_SEGMENT = 30  # fewer orders than this: the rate is noisy (said on the page)
LOYALTY_SEGMENTS = {
    "has_return": "Return or not",
    "refund_speed": "Refund speed",
    "outcome": "Outcome",
}
OUTCOMES = ("refund", "store_credit", "exchange", "keep_it", "rejected", "cancelled")
OUTCOME_COLORS = ("#2e7d32", "#1565c0", "#6a1b9a", "#f9a825", "#d32f2f", "#9e9e9e")


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


def loyalty_by_experience() -> pd.DataFrame:
    """Repeat purchase within 90 / 180 days by return experience over all mature order months
    (kpi_loyalty_after_returns, month grain, is_cohort_mature): counts summed, then divided."""
    return data.query(
        "select segment_type, segment_value, cast(sum(orders) as bigint) as orders, "
        "cast(sum(orders_with_repeat_90d) as bigint) as orders_with_repeat_90d, "
        "cast(sum(orders_with_repeat_180d) as bigint) as orders_with_repeat_180d, "
        "sum(orders_with_repeat_90d) * 1.0 / sum(orders) as repeat_purchase_rate_90d, "
        "sum(orders_with_repeat_180d) * 1.0 / sum(orders) as repeat_purchase_rate_180d, "
        "sum(next_180d_revenue_eur) / sum(orders) as next_180d_revenue_per_order_eur, "
        "min(period_start_date) as first_month_date, max(period_end_date) as last_month_date "
        "from marts.kpi_loyalty_after_returns "
        "where period_grain = 'month' and is_cohort_mature "
        "and segment_type in ('all', 'has_return', 'refund_speed', 'outcome') "
        "group by segment_type, segment_value "
        "order by case segment_type when 'all' then 0 when 'has_return' then 1 "
        "when 'refund_speed' then 2 else 3 end, orders desc, segment_value",
    )


def outcome_mix(grain: str, f: ui.Filters) -> pd.DataFrame:
    """How the return lines requested in each period ended (kpi_return_outcomes), for the
    category or supplier chosen (else all returns)."""
    slice_type, slice_value = (
        ("category", f.category)
        if f.category
        else ("supplier", f.supplier)
        if f.supplier
        else ("all", "all")
    )
    return data.query(
        "select period_start_date, period_end_date, slice_type, slice_value, return_lines, "
        "refund_lines, store_credit_lines, exchange_lines, keep_it_lines, rejected_lines, "
        "cancelled_lines, refund_share, store_credit_share, exchange_share, keep_it_share, "
        "rejected_share, cancelled_share, open_return_lines "
        "from marts.kpi_return_outcomes "
        "where period_grain = ? and slice_type = ? and slice_value = ? "
        "order by period_start_date",
        [grain, slice_type, slice_value],
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


def _loyalty_section() -> None:
    st.subheader("Loyalty after a return")
    loyalty = loyalty_by_experience()
    if loyalty.empty:
        st.info(
            "No mature order month yet: the 180 days after every order of a month must have "
            "passed before its repeat purchases can be compared."
        )
        return
    st.caption(
        f"Orders placed {loyalty['first_month_date'].min():%Y-%m-%d} to "
        f"{loyalty['last_month_date'].max():%Y-%m-%d}, **mature order months only** (the 180 "
        "days after every order have passed): did the same customer order again within 90 / "
        "180 days? Split by whether the order had a return and by the experience of its first "
        "return line (refund speed: fast within 14 days of the request; outcome). Segments "
        f"with fewer than {SMALL_SEGMENT} orders are noisy: read their counts (docs/kpis.md, "
        '"Loyalty after a return").'
    )
    rate = loyalty.set_index(["segment_type", "segment_value"])
    cols = st.columns(4)
    for col, (days, value) in zip(
        cols,
        [("90", "with_return"), ("90", "no_return"), ("180", "with_return"), ("180", "no_return")],
        strict=True,
    ):
        label = f"Repeat within {days} days, {value.replace('_', ' ').replace('with ', 'with a ')}"
        key = ("has_return", value)
        row = rate.loc[key] if key in rate.index else None
        col.metric(
            label,
            ui.pct(None if row is None else row[f"repeat_purchase_rate_{days}d"]),
            help=None if row is None else f"Of {ui.num(row['orders'])} orders.",
        )
    shown = loyalty[loyalty["segment_type"].isin(LOYALTY_SEGMENTS)].assign(
        split=lambda d: d["segment_type"].map(LOYALTY_SEGMENTS),
        rate_90d=lambda d: d["repeat_purchase_rate_90d"].astype(float),
        rate_180d=lambda d: d["repeat_purchase_rate_180d"].astype(float),
        noisy=lambda d: d["orders"] < SMALL_SEGMENT,
    )
    long = (
        shown.assign(segment=lambda d: d["split"] + " · " + d["segment_value"])
        .melt(
            id_vars=["segment", "orders", "noisy"],
            value_vars=["rate_90d", "rate_180d"],
            var_name="window",
            value_name="rate",
        )
        .assign(window=lambda d: d["window"].map({"rate_90d": "90 days", "rate_180d": "180 days"}))
    )
    ui.chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", title=None, sort=None),
            yOffset=alt.YOffset("window:N", sort=["90 days", "180 days"]),
            x=alt.X("rate:Q", title="Repeat-purchase rate", axis=alt.Axis(format="%")),
            color=alt.Color("window:N", title="Within", sort=["90 days", "180 days"]),
            opacity=alt.condition("datum.noisy", alt.value(0.4), alt.value(1.0)),
            tooltip=["segment:N", "window:N", alt.Tooltip("rate:Q", format=".1%"), "orders:Q"],
        )
        .properties(height=alt.Step(10))
    )
    ui.table(loyalty.drop(columns=["first_month_date", "last_month_date"]), "loyalty_after_returns")


def _outcome_section(f: ui.Filters) -> None:
    st.subheader("Outcome mix over time")
    grain = st.radio(
        "Outcome periods",
        ["month", "week"],
        format_func=ui.GRAINS.get,
        horizontal=True,
        key="outcome_grain",
    )
    mix = outcome_mix(grain, f)
    if mix.empty:
        st.info("No returns requested for this selection.")
        return
    first = mix.iloc[0]
    st.caption(
        f"How the return lines requested in each {grain} ended ({first['slice_type']} "
        f"{first['slice_value']}): refund, store credit, exchange, keep-it (refunded, the goods "
        "stay), rejected by the shop or cancelled by the customer. Lines still open count "
        "under the resolution asked for, so the latest periods can still change."
    )
    long = mix.melt(
        id_vars=["period_start_date", "return_lines"],
        value_vars=[f"{o}_share" for o in OUTCOMES],
        var_name="outcome",
        value_name="share",
    ).assign(
        outcome=lambda d: d["outcome"].str.removesuffix("_share"),
        share=lambda d: d["share"].astype(float),
        order=lambda d: d["outcome"].map({o: i for i, o in enumerate(OUTCOMES)}),
    )
    ui.chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("period_start_date:T", title=f"{ui.GRAINS[grain]} requested"),
            y=alt.Y("share:Q", title="Share of return lines", axis=alt.Axis(format="%")),
            color=alt.Color(
                "outcome:N",
                title="Outcome",
                scale=alt.Scale(domain=list(OUTCOMES), range=list(OUTCOME_COLORS)),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("period_start_date:T", title="period start"),
                "outcome:N",
                alt.Tooltip("share:Q", format=".1%"),
                "return_lines:Q",
            ],
        )
        .properties(height=280)
    )
    ui.table(mix, "return_outcomes")


def render() -> None:
    """Draw the page."""
    ui.page("Customers & keep-it", NEEDS)
    f = ui.filters(period=False, slices=("category", "supplier"))
    _customers_section()
    _keep_it_section(f)
    _loyalty_section()
    _outcome_section(f)


if __name__ == "__main__":
    render()
