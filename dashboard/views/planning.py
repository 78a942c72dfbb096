"""Planning: gross vs return-aware forecast, restockable units, back-test error per group."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = ("sig_return_aware_forecasts", "sig_forecast_backtest")


def groups() -> pd.DataFrame:
    """Product groups (category/subcategory) of the back-test, with their WAPE per forecast."""
    return data.query(
        "select product_group, category, subcategory, "
        "any_value(gross_wape) as gross_wape, any_value(return_aware_wape) as return_aware_wape, "
        "count(*) as backtest_weeks "
        "from marts.sig_forecast_backtest group by all order by product_group"
    )


def forecast_weeks() -> tuple[date, date]:
    """First and last forecast week."""
    df = data.query(
        "select min(week_start_date) as first, max(week_start_date) as last "
        "from marts.sig_return_aware_forecasts"
    )
    return pd.Timestamp(df["first"][0]).date(), pd.Timestamp(df["last"][0]).date()


SCOPE = (
    "where week_start_date between ? and ? "
    "and (? is null or category = ?) and (? is null or subcategory = ?) "
    "and (? is null or supplier_id = ?) "
)


def _scope_params(scope: tuple, start: date, end: date) -> list:
    category, subcategory, supplier = scope
    return [start, end, category, category, subcategory, subcategory, supplier, supplier]


def forecasts(scope: tuple, start: date, end: date) -> pd.DataFrame:
    """Forecast units per week of (category, subcategory, supplier), summed over its skus."""
    return data.query(
        "select week_start_date, sum(gross_demand_units) as gross_demand_units, "
        "sum(net_demand_units) as return_aware_demand_units, "
        "sum(expected_returned_units) as expected_returned_units, "
        "sum(expected_restockable_units) as expected_restockable_units "
        f"from marts.sig_return_aware_forecasts {SCOPE} "
        "group by all order by week_start_date",
        _scope_params(scope, start, end),
    )


def restock(scope: tuple, start: date, end: date) -> pd.DataFrame:
    """Restockable units by the week they are expected back."""
    return data.query(
        "select restock_week_start_date, sum(expected_restockable_units) "
        f"as expected_restockable_units from marts.sig_return_aware_forecasts {SCOPE} "
        "group by all order by restock_week_start_date",
        _scope_params(scope, start, end),
    )


def backtest(group: str) -> pd.DataFrame:
    """Back-test weeks of one product group (or 'all')."""
    return data.query(
        "select week_start_date, gross_forecast_units, return_aware_forecast_units, "
        "actual_net_units, units_sold, units_returned, gross_abs_error, return_aware_abs_error "
        "from marts.sig_forecast_backtest where product_group = ? order by week_start_date",
        [group],
    )


def render() -> None:
    """Draw the page."""
    ui.page("Planning: return-aware demand", NEEDS)
    f = ui.filters(period=False, slices=("category", "supplier"))
    first, last = forecast_weeks()
    chosen = st.sidebar.date_input(
        "Forecast weeks",
        value=(first, last),
        min_value=first,
        max_value=last,
        key="f_plan_weeks",
    )
    start, end = (
        (chosen[0], chosen[-1]) if isinstance(chosen, tuple | list) and chosen else (first, last)
    )
    grp = groups()
    if f.category is not None:
        grp = grp[(grp["category"] == f.category) | (grp["product_group"] == "all")]
    names = grp["product_group"].tolist()
    group = st.selectbox(
        "Product group",
        names,
        index=names.index("all") if "all" in names else 0,
        key="plan_group",
        help="category/subcategory; 'all' is every product.",
    )
    if group == "all":
        scope = (f.category, None, f.supplier)
    else:
        category, subcategory = group.split("/", 1)
        scope = (category, subcategory, f.supplier)

    st.subheader(f"Gross vs return-aware forecast · {group}")
    st.caption(
        "Gross: units expected to be sold. Return-aware: gross minus the units expected to come "
        "back (group return rate x season). Sums over the group's skus per week."
        + (f" Supplier {f.supplier} only." if f.supplier else "")
    )
    fc = forecasts(scope, start, end)
    if fc.empty:
        st.info("No forecast for this selection.")
    else:
        long = fc.melt(
            id_vars="week_start_date",
            value_vars=["gross_demand_units", "return_aware_demand_units"],
            var_name="forecast",
            value_name="units",
        )
        long["forecast"] = long["forecast"].map(
            {"gross_demand_units": "gross", "return_aware_demand_units": "return-aware (net)"}
        )
        ui.chart(
            alt.Chart(long)
            .mark_line(point=True)
            .encode(
                x=alt.X("week_start_date:T", title="Week"),
                y=alt.Y("units:Q", title="Units"),
                color=alt.Color("forecast:N", title="Forecast"),
                tooltip=["week_start_date:T", "forecast:N", alt.Tooltip("units:Q", format=",.0f")],
            )
            .properties(height=280)
        )
        ui.table(fc, "return_aware_forecast")

    st.subheader("Restockable units")
    st.caption("Returned units expected back in sellable condition, by the week they arrive.")
    rs = restock(scope, start, end)
    if rs.empty:
        st.info("No restockable units expected for this selection.")
    else:
        ui.chart(
            alt.Chart(rs)
            .mark_bar(color="#2e7d32")
            .encode(
                x=alt.X("restock_week_start_date:T", title="Week back in stock"),
                y=alt.Y("expected_restockable_units:Q", title="Units"),
                tooltip=[
                    "restock_week_start_date:T",
                    alt.Tooltip("expected_restockable_units:Q", format=",.0f"),
                ],
            )
            .properties(height=220)
        )
        ui.download(rs, "restockable_units")

    st.subheader("Back-test: forecast error per group")
    st.caption(
        "WAPE on net demand (sold - returned) over past weeks whose returns are complete; lower "
        "is better. Out-of-sample: each week's return rates come only from data known before it."
    )
    wape = grp.melt(
        id_vars=["product_group"],
        value_vars=["gross_wape", "return_aware_wape"],
        var_name="forecast",
        value_name="wape",
    )
    wape["forecast"] = wape["forecast"].map(
        {"gross_wape": "gross", "return_aware_wape": "return-aware"}
    )
    ui.chart(
        alt.Chart(wape)
        .mark_bar()
        .encode(
            y=alt.Y("product_group:N", title=None),
            yOffset="forecast:N",
            x=alt.X("wape:Q", title="WAPE", axis=alt.Axis(format="%")),
            color=alt.Color("forecast:N", title="Forecast"),
            tooltip=["product_group:N", "forecast:N", alt.Tooltip("wape:Q", format=".1%")],
        )
        .properties(height=alt.Step(9))
    )
    ui.table(grp, "backtest_wape_per_group")
    bt = backtest(group)
    if not bt.empty:
        long = bt.melt(
            id_vars="week_start_date",
            value_vars=["gross_forecast_units", "return_aware_forecast_units", "actual_net_units"],
            var_name="series",
            value_name="units",
        )
        ui.chart(
            alt.Chart(long)
            .mark_line()
            .encode(
                x=alt.X("week_start_date:T", title="Week"),
                y=alt.Y("units:Q", title="Units"),
                color=alt.Color("series:N", title=""),
                tooltip=["week_start_date:T", "series:N", alt.Tooltip("units:Q", format=",.0f")],
            )
            .properties(height=240, title=f"Back-test weeks · {group}")
        )
        ui.download(bt, "backtest_weeks")


if __name__ == "__main__":
    render()
