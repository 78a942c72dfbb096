"""Behaviour: return rate by band of pre-purchase behaviour, with counts per category."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = ("sig_return_rate_by_behaviour_band",)
BEHAVIOURS = {
    "decision_time": "Decision time (deciles, 1 = quickest)",
    "product_views": "Product views (deciles, 1 = fewest)",
    "size_guide": "Opened the size guide",
    "bracketing": "Ordered several sizes (bracketing)",
}


def bands(category: str | None) -> pd.DataFrame:
    """Return rate per behaviour band of one category, or 'all' (sig_return_rate_by_behaviour_band)."""
    return data.query(
        "select behaviour, band, band_label, band_min, band_max, order_lines, returned_lines, "
        "units_sold, units_returned, return_rate, return_rate_lower_95, return_rate_upper_95 "
        "from marts.sig_return_rate_by_behaviour_band where category = ? "
        "order by behaviour, band",
        [category or "all"],
    )


def counts_per_category() -> pd.DataFrame:
    """Order lines and returned lines per behaviour band and category."""
    return data.query(
        "select behaviour, band, band_label, category, order_lines, returned_lines, return_rate "
        "from marts.sig_return_rate_by_behaviour_band where category <> 'all' "
        "order by behaviour, band, category"
    )


def render() -> None:
    """Draw the page."""
    ui.page("Behaviour before buying", NEEDS)
    f = ui.filters(period=False, slices=("category",))
    st.caption(
        "Share of order lines with a return, by band of what the customer did on the site "
        "before buying (web and app orders; marketplace orders have no journey). Bars show the "
        "95 % Wilson interval."
    )
    df = bands(f.category)
    if df.empty:
        st.info("No behaviour bands for this selection (no sized products or no web journeys).")
        return
    df = df.assign(behaviour_label=df["behaviour"].map(BEHAVIOURS).fillna(df["behaviour"]))
    for behaviour, label in BEHAVIOURS.items():
        part = df[df["behaviour"] == behaviour]
        if part.empty:
            continue
        base = alt.Chart(part).encode(
            x=alt.X("band_label:N", title=None, sort=alt.SortField("band"))
        )
        ui.chart(
            (
                base.mark_bar(color="#90caf9").encode(
                    y=alt.Y("return_rate:Q", title="Return rate", axis=alt.Axis(format="%")),
                    tooltip=[
                        "band_label:N",
                        alt.Tooltip("return_rate:Q", format=".1%"),
                        alt.Tooltip("return_rate_lower_95:Q", format=".1%", title="lower 95%"),
                        alt.Tooltip("return_rate_upper_95:Q", format=".1%", title="upper 95%"),
                        alt.Tooltip("order_lines:Q", format=","),
                        alt.Tooltip("band_min:Q", format=",.1f"),
                        alt.Tooltip("band_max:Q", format=",.1f"),
                    ],
                )
                + base.mark_rule(color="#0d47a1").encode(
                    y="return_rate_lower_95:Q", y2="return_rate_upper_95:Q"
                )
            ).properties(height=200, title=f"{label} · {f.category or 'all categories'}")
        )
    ui.table(df.drop(columns="behaviour_label"), "return_rate_by_behaviour_band")

    st.subheader("Order lines per band and category")
    counts = counts_per_category()
    if f.category is not None:
        counts = counts[counts["category"] == f.category]
    pivot = counts.pivot_table(
        index=["behaviour", "band", "band_label"],
        columns="category",
        values="order_lines",
        aggfunc="first",
    ).reset_index()
    pivot.columns = [str(c) for c in pivot.columns]
    ui.table(pivot, "order_lines_per_band_and_category")


if __name__ == "__main__":
    render()
