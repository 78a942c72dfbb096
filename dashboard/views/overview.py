"""Overview: return rates on three bases, what returns cost and the margin left after them,
processing times, reasons, revenue retained, NPS."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = (
    "kpi_return_rates_by_order_cohort",
    "kpi_returns_by_request_date",
    "kpi_return_processing_times",
    "kpi_reason_mix",
    "kpi_nps",
)
BASES = {
    "return_rate_units": "units",
    "return_rate_value": "value",
    "return_rate_orders": "orders",
}
STEPS = {
    "requested_to_received": "1 requested → received",
    "received_to_inspected": "2 received → inspected",
    "inspected_to_refunded": "3 inspected → refunded",
    "requested_to_refunded": "end to end",
}
COSTS = "kpi_return_costs"  # optional here: a serving file of an older pipeline lacks it
COMPONENTS = {
    "forward_shipping_eur": "forward shipping given away",
    "return_label_eur": "return label",
    "handling_eur": "handling",
    "refurbishment_eur": "refurbishment",
    "write_off_eur": "write-off",
    "refund_fees_eur": "refund fees",
}
WHERE = (
    "where period_grain = ? and slice_type = ? and slice_value = ? "
    "and period_start_date between ? and ?"
)


def cohorts(f: ui.Filters) -> pd.DataFrame:
    """Cohort return rates of the filtered periods (kpi_return_rates_by_order_cohort)."""
    kind, value = f.kpi_slice()
    return data.query(
        "select period_start_date, period_end_date, is_cohort_mature, orders, "
        "orders_with_return, units_sold, units_returned, gross_revenue_eur, refunded_eur, "
        "return_rate_units, return_rate_value, return_rate_orders, nps_responses, nps "
        f"from marts.kpi_return_rates_by_order_cohort {WHERE} order by period_start_date",
        [f.grain, kind, value, f.start, f.end],
    )


def return_costs(f: ui.Filters) -> pd.DataFrame:
    """Cost of returns and net margin after returns of the filtered order cohorts
    (kpi_return_costs, same grain and slice as the cohort rates); empty when not published."""
    if COSTS not in data.published_tables():
        return pd.DataFrame()
    kind, value = f.kpi_slice()
    return data.query(
        "select period_start_date, period_end_date, is_cohort_mature, cost_basis, return_lines, "
        "returned_value_eur, gross_revenue_eur, gross_margin_eur, forward_shipping_eur, "
        "return_label_eur, handling_eur, refurbishment_eur, write_off_eur, refund_fees_eur, "
        "customer_fees_eur, cost_of_returns_eur, cost_per_return_line_eur, "
        "cost_share_of_returned_value, margin_lost_to_returns_eur, "
        "net_margin_after_returns_eur, net_margin_share "
        f"from marts.kpi_return_costs {WHERE} order by period_start_date",
        [f.grain, kind, value, f.start, f.end],
    )


def cost_chart(costs: pd.DataFrame, grain: str) -> alt.LayerChart:
    """What returns cost per order period, stacked by component; immature cohorts shaded."""
    long = costs.melt(
        id_vars=["period_start_date", "is_cohort_mature"],
        value_vars=list(COMPONENTS),
        var_name="component",
        value_name="eur",
    )
    long["component"] = long["component"].map(COMPONENTS)
    long["eur"] = long["eur"].astype(float)
    immature = costs.loc[~costs["is_cohort_mature"], ["period_start_date"]].assign(
        period_end=ui.end_exclusive(costs.loc[~costs["is_cohort_mature"]])
    )
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("period_start_date:T", title=f"{ui.GRAINS[grain]} ordered"),
            y=alt.Y("eur:Q", title=ui.currency(), axis=alt.Axis(format="~s"), stack="zero"),
            color=alt.Color("component:N", title="Component", sort=list(COMPONENTS.values())),
            tooltip=[
                alt.Tooltip("period_start_date:T", title="Period"),
                "component:N",
                alt.Tooltip("eur:Q", format=",.2f", title=ui.currency()),
            ],
        )
    )
    band = (
        alt.Chart(immature)
        .mark_rect(color="#9e9e9e", opacity=0.18)
        .encode(x="period_start_date:T", x2="period_end:T")
    )
    return (band + bars).properties(height=280)


def cost_figures(costs: pd.DataFrame, start) -> list[tuple[str, str, str | None]]:
    """The headline cohort's cost of returns and margin after them, as metric tiles."""
    rows = costs[costs["period_start_date"] == start]
    if rows.empty:
        return []
    row = rows.iloc[0]
    return [
        (
            "Cost of returns",
            ui.eur(row["cost_of_returns_eur"]),
            "Forward shipping given away, label, handling, refurbishment, write-off and refund "
            "fees, less fees charged, for the returns of these orders (docs/kpis.md).",
        ),
        ("Cost per return line", ui.eur(row["cost_per_return_line_eur"], 2), None),
        (
            "Net margin after returns",
            ui.pct(row["net_margin_share"]),
            "Gross margin less the margin lost to returns, as a share of gross revenue: "
            f"{ui.eur(row['net_margin_after_returns_eur'])}.",
        ),
        (
            "Margin lost to returns",
            ui.eur(row["margin_lost_to_returns_eur"]),
            "Refunds of undone sales less the goods taken back at cost, plus the cost of returns.",
        ),
    ]


def processing_times(f: ui.Filters) -> pd.DataFrame:
    """Median and p90 days per step (kpi_return_processing_times)."""
    kind, value = f.kpi_slice()
    return data.query(
        "select period_start_date, step, return_lines_measured, median_days, p90_days "
        f"from marts.kpi_return_processing_times {WHERE} order by period_start_date, step",
        [f.grain, kind, value, f.start, f.end],
    )


def request_flow(f: ui.Filters) -> pd.DataFrame:
    """Returns by request date: revenue retained and flow rates (kpi_returns_by_request_date)."""
    kind, value = f.kpi_slice()
    return data.query(
        "select period_start_date, period_end_date, return_lines, units_returned, "
        "returned_value_eur, exchange_value_eur, store_credit_value_eur, refunded_eur, "
        "revenue_retained_rate "
        f"from marts.kpi_returns_by_request_date {WHERE} order by period_start_date",
        [f.grain, kind, value, f.start, f.end],
    )


def reason_mix(f: ui.Filters) -> pd.DataFrame:
    """Share of return lines per reason (kpi_reason_mix)."""
    kind, value = f.kpi_slice()
    return data.query(
        "select period_start_date, reason, reason_label, reason_group, return_lines, "
        "share_of_return_lines "
        f"from marts.kpi_reason_mix {WHERE} order by period_start_date, reason",
        [f.grain, kind, value, f.start, f.end],
    )


def nps_segments(f: ui.Filters) -> pd.DataFrame:
    """NPS of returners vs non-returners and by refund speed (kpi_nps)."""
    kind, value = f.kpi_slice()
    return data.query(
        "select period_start_date, segment, nps_responses, nps, avg_rating "
        f"from marts.kpi_nps {WHERE} and segment <> 'all' order by period_start_date, segment",
        [f.grain, kind, value, f.start, f.end],
    )


def headline_period(rates: pd.DataFrame) -> pd.Series | None:
    """The latest mature cohort in the filtered range (its rates no longer rise)."""
    mature = rates[rates["is_cohort_mature"]]
    return None if mature.empty else mature.iloc[-1]


def _at(df: pd.DataFrame, start, col: str, **eq) -> float | None:
    rows = df[df["period_start_date"] == start]
    for k, v in eq.items():
        rows = rows[rows[k] == v]
    return None if rows.empty else rows.iloc[0][col]


def render() -> None:
    """Draw the page."""
    ui.page("Returns overview", NEEDS)
    f = ui.filters()
    rates = cohorts(f)
    if rates.empty:
        st.info("No orders in the chosen periods and slice.")
        return
    times = processing_times(f)
    flow = request_flow(f)
    reasons = reason_mix(f)
    segments = nps_segments(f)
    costs = return_costs(f)

    head = headline_period(rates)
    if head is not None:
        start = head["period_start_date"]
        label = ui.period_label(f.grain, start)
        st.subheader(f"Latest mature {f.grain}: {label} · {f.slice_label()}")
        figures = [
            ("Return rate (units)", ui.pct(head["return_rate_units"]), None),
            ("Return rate (value)", ui.pct(head["return_rate_value"]), None),
            ("Return rate (orders)", ui.pct(head["return_rate_orders"]), None),
            ("NPS of the cohort", ui.num(head["nps"], 1), "NPS of answers about these orders."),
            (
                "Gross revenue",
                ui.eur(head["gross_revenue_eur"]),
                f"{ui.currency()} incl. VAT, before returns.",
            ),
            ("Refunded", ui.eur(head["refunded_eur"]), None),
            ("Units sold", ui.num(head["units_sold"]), None),
            ("Units returned", ui.num(head["units_returned"]), None),
            (
                "Revenue retained",
                ui.pct(_at(flow, start, "revenue_retained_rate")),
                "Exchanges and store credit as a share of the returned value, for returns "
                "requested in the period.",
            ),
            ("Returned value", ui.eur(_at(flow, start, "returned_value_eur")), None),
            (
                "Median days to refund",
                ui.num(_at(times, start, "median_days", step="requested_to_refunded"), 1),
                "Request to refund, returns requested in the period.",
            ),
            (
                "p90 days to refund",
                ui.num(_at(times, start, "p90_days", step="requested_to_refunded"), 1),
                None,
            ),
        ]
        if not costs.empty:
            figures[4:4] = cost_figures(costs, start)
        for row in range(0, len(figures), 4):
            for col, (label, value, help_) in zip(
                st.columns(4), figures[row : row + 4], strict=True
            ):
                col.metric(label, value, help=help_)
    else:
        st.info("No cohort in the chosen range is mature yet: rates will still rise.")

    st.subheader("Return rate by order cohort, three bases")
    st.caption(
        "Shaded periods are immature cohorts: their return window has not closed, so their "
        "rates still rise. Compare mature cohorts only."
    )
    long = rates.melt(
        id_vars=["period_start_date", "is_cohort_mature"],
        value_vars=list(BASES),
        var_name="basis",
        value_name="return_rate",
    )
    long["basis"] = long["basis"].map(BASES)
    immature = rates.loc[~rates["is_cohort_mature"], ["period_start_date"]].assign(
        period_end=ui.end_exclusive(rates.loc[~rates["is_cohort_mature"]])
    )
    lines = (
        alt.Chart(long)
        .mark_line(point=f.grain != "day")
        .encode(
            x=alt.X("period_start_date:T", title=f"{ui.GRAINS[f.grain]} ordered"),
            y=alt.Y("return_rate:Q", title="Return rate", axis=alt.Axis(format="%")),
            color=alt.Color("basis:N", title="Basis"),
            tooltip=[
                alt.Tooltip("period_start_date:T", title="Period"),
                "basis:N",
                alt.Tooltip("return_rate:Q", format=".1%"),
                alt.Tooltip("is_cohort_mature:N", title="Mature"),
            ],
        )
    )
    band = (
        alt.Chart(immature)
        .mark_rect(color="#9e9e9e", opacity=0.18)
        .encode(x="period_start_date:T", x2="period_end:T")
    )
    ui.chart((band + lines).properties(height=300))
    ui.download(rates, "return_rates_by_order_cohort")

    st.subheader("What returns cost, by component")
    if costs.empty:
        st.info(
            "Cost of returns is not yet available: the published data has no "
            f"`marts.{COSTS}`. {ui.RUN_HINT}",
            icon=":material/hourglass_empty:",
        )
    else:
        st.caption(
            f"Cost of the returns of each order cohort ({ui.currency()}), by component; fees "
            "charged to customers are subtracted in the total (in the CSV). Shaded periods are "
            "immature cohorts: their returns and costs still rise. Costs from the parameters in "
            "seeds/return_cost_parameters.csv."
        )
        ui.chart(cost_chart(costs, f.grain))
        ui.download(costs, "return_costs")

    left, right = st.columns(2)
    with left:
        st.subheader("Processing time per step")
        tl = times.melt(
            id_vars=["period_start_date", "step", "return_lines_measured"],
            value_vars=["median_days", "p90_days"],
            var_name="measure",
            value_name="days",
        )
        tl["step"] = tl["step"].map(STEPS).fillna(tl["step"])
        tl["measure"] = tl["measure"].map({"median_days": "median", "p90_days": "p90"})
        if head is not None:
            st.caption(
                f"Median and p90 in days for returns requested in {ui.period_label(f.grain, head['period_start_date'])}; "
                "below, the median per step over time."
            )
            ui.chart(
                alt.Chart(tl[tl["period_start_date"] == head["period_start_date"]])
                .mark_bar()
                .encode(
                    y=alt.Y("step:N", title=None),
                    yOffset="measure:N",
                    x=alt.X("days:Q", title="Days"),
                    color=alt.Color(
                        "measure:N", title="", scale=alt.Scale(range=["#1565c0", "#90caf9"])
                    ),
                    tooltip=[
                        "step:N",
                        "measure:N",
                        alt.Tooltip("days:Q", format=".1f"),
                        "return_lines_measured:Q",
                    ],
                )
                .properties(height=150)
            )
        ui.chart(
            alt.Chart(tl[tl["measure"] == "median"])
            .mark_line()
            .encode(
                x=alt.X("period_start_date:T", title="Requested"),
                y=alt.Y("days:Q", title="Median days"),
                color=alt.Color("step:N", title="Step"),
                tooltip=["step:N", alt.Tooltip("days:Q", format=".1f"), "return_lines_measured:Q"],
            )
            .properties(height=150)
        )
        ui.download(times, "return_processing_times")
    with right:
        st.subheader("Reason mix")
        st.caption("Share of return lines per standard reason, by return-request period.")
        ui.chart(
            alt.Chart(reasons)
            .mark_bar()
            .encode(
                x=alt.X("period_start_date:T", title="Requested"),
                y=alt.Y(
                    "share_of_return_lines:Q",
                    title="Share of return lines",
                    stack="normalize",
                    axis=alt.Axis(format="%"),
                ),
                color=alt.Color("reason_label:N", title="Reason"),
                tooltip=[
                    "reason_label:N",
                    "reason_group:N",
                    "return_lines:Q",
                    alt.Tooltip("share_of_return_lines:Q", format=".1%"),
                ],
            )
            .properties(height=280)
        )
        ui.download(reasons, "reason_mix")

    left, right = st.columns(2)
    with left:
        st.subheader("Revenue retained")
        st.caption(
            f"Returned value ({ui.currency()}) kept as an exchange or store credit, by "
            "return-request period."
        )
        money = flow.melt(
            id_vars=["period_start_date"],
            value_vars=["exchange_value_eur", "store_credit_value_eur", "returned_value_eur"],
            var_name="part",
            value_name="eur",
        )
        money["part"] = money["part"].map(
            {
                "exchange_value_eur": "exchanged",
                "store_credit_value_eur": "store credit",
                "returned_value_eur": "returned value",
            }
        )
        bars = (
            alt.Chart(money)
            .mark_line(point=f.grain != "day")
            .encode(
                x=alt.X("period_start_date:T", title="Requested"),
                y=alt.Y("eur:Q", title=ui.currency(), axis=alt.Axis(format="~s")),
                color=alt.Color("part:N", title=""),
                tooltip=["part:N", alt.Tooltip("eur:Q", format=",.2f", title=ui.currency())],
            )
        )
        rate = (
            alt.Chart(flow)
            .mark_area(opacity=0.15, color="#2e7d32")
            .encode(
                x="period_start_date:T",
                y=alt.Y("revenue_retained_rate:Q", title="Retained", axis=alt.Axis(format="%")),
                tooltip=[alt.Tooltip("revenue_retained_rate:Q", format=".1%")],
            )
        )
        ui.chart(alt.layer(rate, bars).resolve_scale(y="independent").properties(height=280))
        ui.download(flow, "returns_by_request_date")
    with right:
        st.subheader("NPS beside return rate")
        if ui.not_available(["kpi_nps"]):
            return  # the NPS segments below need the surveys too
        st.caption("NPS of each order cohort (points) next to its unit return rate.")
        base = alt.Chart(rates).encode(x=alt.X("period_start_date:T", title="Ordered"))
        nps_line = base.mark_line(color="#6a1b9a", point=f.grain != "day").encode(
            y=alt.Y("nps:Q", title="NPS (points)", axis=alt.Axis(titleColor="#6a1b9a")),
            tooltip=[alt.Tooltip("nps:Q", format=".1f"), "nps_responses:Q"],
        )
        rr_line = base.mark_line(color="#ef6c00", strokeDash=[4, 3]).encode(
            y=alt.Y(
                "return_rate_units:Q",
                title="Return rate (units)",
                axis=alt.Axis(format="%", titleColor="#ef6c00"),
            ),
            tooltip=[alt.Tooltip("return_rate_units:Q", format=".1%")],
        )
        ui.chart(alt.layer(nps_line, rr_line).resolve_scale(y="independent").properties(height=280))

    st.subheader("NPS of returners vs non-returners, and by refund speed")
    st.caption(
        "Answers given in the period. Refund speed: the surveyed order's latest refund before "
        "the answer took at most / more than the slow-refund threshold. Small segments are "
        "noisy: hover for the number of answers."
    )
    left, right = st.columns(2)
    seg_names = {
        "returner": "returners",
        "non_returner": "non-returners",
        "fast_refund": "fast refund",
        "slow_refund": "slow refund",
    }
    segments = segments.assign(segment_label=segments["segment"].map(seg_names))
    for col, group in zip(
        (left, right), (("returner", "non_returner"), ("fast_refund", "slow_refund")), strict=True
    ):
        with col:
            ui.chart(
                alt.Chart(segments[segments["segment"].isin(group)])
                .mark_line(point=f.grain != "day")
                .encode(
                    x=alt.X("period_start_date:T", title="Answered"),
                    y=alt.Y("nps:Q", title="NPS (points)"),
                    color=alt.Color("segment_label:N", title="Segment"),
                    tooltip=[
                        "segment_label:N",
                        alt.Tooltip("nps:Q", format=".1f"),
                        "nps_responses:Q",
                    ],
                )
                .properties(height=260)
            )
    ui.download(segments.drop(columns="segment_label"), "nps_by_segment")


if __name__ == "__main__":
    render()
