"""Shared page furniture: publish banner, filters, formatting, downloads, 'not yet available'."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data

RUN_HINT = "Run `make run` (or `.venv/bin/returnlens run`) to build and publish the marts."
GRAINS = {"week": "Week", "month": "Month", "day": "Day"}
SLICE_KEYS = ("category", "supplier", "channel")


# ------------------------------------------------------------------------------ formatting
CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF", "JPY": "¥"}


def currency() -> str:
    """The shop's reporting currency (marts.rpt_shop_profile; EUR before the first publish)."""
    if "rpt_shop_profile" not in data.published_tables():
        return "EUR"
    rows = data.query("select reporting_currency from marts.rpt_shop_profile")
    return str(rows.iloc[0, 0]) if not rows.empty else "EUR"


def eur(value: float | None, decimals: int = 0) -> str:
    """Money in the shop's reporting currency with thousands separators, e.g. '€ 1,234' or
    'SEK 1,234' (the marts' *_eur columns hold the reporting currency); an em dash for
    missing values."""
    if value is None or pd.isna(value):
        return "—"
    code = currency()
    return f"{CURRENCY_SYMBOLS.get(code, code)} {float(value):,.{decimals}f}"


def pct(value: float | None, decimals: int = 1) -> str:
    """A rate 0..1 as a percentage."""
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value) * 100:.{decimals}f}%"


def num(value: float | None, decimals: int = 0) -> str:
    """A number with thousands separators."""
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{decimals}f}"


_MONEY = re.compile(r"(_eur$|^eur_|_eur_)")
_RATE = re.compile(r"(^|_)(rate|share|wape)(_|$)")


def column_config(df: pd.DataFrame) -> dict:
    """Streamlit column formats by column name: *_eur in euros, rates and shares in percent."""
    config: dict = {}
    for col in df.columns:
        if col.endswith("_date") and pd.api.types.is_datetime64_any_dtype(df[col]):
            config[col] = st.column_config.DateColumn(col, format="YYYY-MM-DD")
            continue
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        if _MONEY.search(col):
            code = currency()
            config[col] = (
                st.column_config.NumberColumn(col, format="euro")
                if code == "EUR"
                else st.column_config.NumberColumn(col, format=f"{code} %.2f")
            )
        elif _RATE.search(col):
            config[col] = st.column_config.NumberColumn(col, format="percent")
    return config


def table(df: pd.DataFrame, name: str, height: int | None = None) -> None:
    """Show a frame with EUR/percent formats and a CSV download of exactly what is shown."""
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config=column_config(df),
        **({"height": height} if height else {}),
    )
    download(df, name)


def download(df: pd.DataFrame, name: str, label: str | None = None) -> None:
    """A CSV download button for `df` (file name `<name>.csv`)."""
    st.download_button(
        label or f"Download {name}.csv",
        df.to_csv(index=False).encode("utf-8"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"dl_{name}",
    )


def chart(ch: alt.TopLevelMixin) -> None:
    """Render an Altair (Vega-Lite) chart across the page width."""
    st.altair_chart(ch, width="stretch")


# ------------------------------------------------------------------------------ page frame
def page(title: str, needs: Iterable[str] = ()) -> data.PublishInfo:
    """Title, publish banner and the marts the page needs; stops the page with a hint if any
    is missing (nothing published yet, or a mart a newer pipeline adds)."""
    st.title(title)
    if data.publish_stamp() is None:
        st.info(
            f"Nothing is published yet at `{data.serving_path()}`.\n\n{RUN_HINT}",
            icon=":material/info:",
        )
        st.stop()
    try:
        info = data.publish_info()
    except Exception as exc:  # a damaged or foreign file: say so instead of a traceback
        st.error(f"Cannot read `{data.serving_path()}`: {exc}\n\n{RUN_HINT}")
        st.stop()
    if info is None:
        st.info(f"`{data.serving_path()}` has no publish log yet.\n\n{RUN_HINT}")
        st.stop()
    banner(info)
    missing = sorted(set(needs) - data.published_tables())
    if missing:
        st.info(
            "This page is not yet available: the published data has no "
            + ", ".join(f"`marts.{m}`" for m in missing)
            + f". {RUN_HINT}",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    messages = unavailable(needs)
    for message in messages:
        st.info(message.capitalize() + NOT_AVAILABLE_HINT, icon=":material/block:")
    if messages and not set(needs) - unavailable_marts(needs):
        st.stop()  # every mart of the page needs a source the shop did not deliver
    return info


NOT_AVAILABLE_HINT = (
    ". The shop delivered no file of this optional source (or none of these optional columns), "
    "so the marts that need it are empty (see docs/contracts/ and the Data health page)."
)


def _availability() -> pd.DataFrame:
    """Optional sources not delivered, with the marts they leave empty (empty before a
    pipeline that publishes marts.rpt_source_availability)."""
    if "rpt_source_availability" not in data.published_tables():
        return pd.DataFrame(columns=["entity", "marts_affected", "message"])
    return data.query(
        "select entity, marts_affected, message from marts.rpt_source_availability "
        "where is_optional and not is_delivered and marts_affected is not null order by entity"
    )


def _affected(marts: Iterable[str]) -> pd.DataFrame:
    df = _availability()
    wanted = set(marts)
    hit = df["marts_affected"].str.split(", ").map(lambda ms: bool(wanted & set(ms)))
    return df[hit.astype(bool)] if len(df) else df


def unavailable(marts: Iterable[str]) -> list[str]:
    """'not available: no <source> delivered' for each optional source that one of `marts`
    needs and the shop did not deliver (marts.rpt_source_availability)."""
    return _affected(marts)["message"].tolist()


def unavailable_marts(marts: Iterable[str]) -> set[str]:
    """Those of `marts` that are empty because an optional source was not delivered."""
    affected = _affected(marts)["marts_affected"].str.split(", ").explode()
    return set(marts) & set(affected.dropna())


def not_available(marts: Iterable[str]) -> bool:
    """Show the 'not available' message in place of a section that needs `marts`; True when
    the section must be skipped (never charts of an empty mart that look like zeros)."""
    messages = unavailable(marts)
    for message in messages:
        st.info(message.capitalize() + ".", icon=":material/block:")
    return bool(messages)


DEMO_BANNER = (
    "**Demo data.** These figures come from the generated demo shop, not from a shop's own "
    "files. To see your shop, put its files under the landing folder as docs/contracts/ "
    "describes (default `data/landing`, or set `RETURNLENS_LANDING_DIR`) and run "
    "`make run` again."
)


def banner(info: data.PublishInfo) -> None:
    """Demo data or not, when the data was published and whether the run's gates passed."""
    if info.is_demo:
        st.warning(DEMO_BANNER, icon=":material/science:")
    when = info.published_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if info.gates_passed:
        gates = (
            f"all {info.gates_total} quality gates of the run passed"
            if info.gates_total
            else "no quality gates were recorded for the run"
        )
        st.caption(f":material/check_circle: Published {when} · {gates} · run `{info.run_id}`")
    else:
        st.warning(
            f"Published {when}, but {info.gates_failed} of {info.gates_total} quality gates "
            f"of run `{info.run_id}` failed: see Data health."
        )


# ------------------------------------------------------------------------------ filters
@dataclass(frozen=True)
class Filters:
    """The sidebar's choices: period grain and range, and at most one slice per dimension."""

    grain: str
    start: date
    end: date
    category: str | None
    supplier: str | None
    channel: str | None

    def kpi_slice(self) -> tuple[str, str]:
        """(slice_type, slice_value) for the KPI marts, which are cut by one dimension."""
        for key in SLICE_KEYS:
            value = getattr(self, key)
            if value is not None:
                return key, value
        return "all", "all"

    def slice_label(self) -> str:
        """The slice in words."""
        kind, value = self.kpi_slice()
        return "all orders" if kind == "all" else f"{kind} {value}"


def _options() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    slices = data.query(
        "select slice_type, slice_value from marts.kpi_return_rates_by_order_cohort "
        "where period_grain = 'month' and slice_type <> 'all' "
        "group by all order by slice_type, slice_value"
    )
    suppliers = data.query(
        "select supplier_id, supplier_name from marts.dim_suppliers order by supplier_id"
    )
    dates = data.query(
        "select period_grain, min(period_start_date) as first_start, "
        "max(period_end_date) as last_end from marts.kpi_return_rates_by_order_cohort "
        "group by all"
    )
    return slices, suppliers, dates


def filters(period: bool = True, slices: Iterable[str] = SLICE_KEYS, grain: bool = True) -> Filters:
    """Draw the sidebar filters that apply to a page and return the choices."""
    show_grain = grain
    slices = tuple(slices)
    sb = st.sidebar
    sb.header("Filters")
    opts, suppliers, dates = _options()
    grain_value = "week"
    start = end = date.today()
    if not dates.empty:
        first = pd.Timestamp(dates["first_start"].min()).date()
        last = pd.Timestamp(dates["last_end"].max()).date()
        start, end = first, last
    if period and show_grain:
        grain_value = sb.selectbox(
            "Period grain", list(GRAINS), format_func=GRAINS.get, key="f_grain"
        )
    if period and not dates.empty:
        chosen = sb.date_input(
            "Period",
            value=(start, end),
            min_value=start,
            max_value=end,
            key="f_period",
            help="Periods that start in this range (order date for cohorts, request "
            "date for returns, answer date for NPS).",
        )
        if isinstance(chosen, tuple | list) and len(chosen) == 2:
            start, end = chosen
        elif isinstance(chosen, tuple | list) and len(chosen) == 1:
            start = chosen[0]
    names = dict(zip(suppliers["supplier_id"], suppliers["supplier_name"], strict=False))
    values: dict[str, str | None] = dict.fromkeys(SLICE_KEYS)
    for key in slices:
        choices = opts.loc[opts["slice_type"] == key, "slice_value"].tolist()
        fmt = (
            (lambda v: "All" if v is None else f"{v} · {names.get(v, v)}")
            if key == "supplier"
            else (lambda v: "All" if v is None else v)
        )
        values[key] = sb.selectbox(
            key.capitalize(), [None, *choices], format_func=fmt, key=f"f_{key}"
        )
    chosen_slices = [k for k in SLICE_KEYS if values[k] is not None]
    f = Filters(grain_value, start, end, **values)
    if len(chosen_slices) > 1 and show_grain:
        sb.caption(
            f"KPI marts are cut by one dimension at a time: charts use {chosen_slices[0]} "
            f"{values[chosen_slices[0]]}."
        )
    return f


def period_label(grain: str, start: object) -> str:
    """'2026-W05', '2026-01' or '2026-01-05' for a period start."""
    ts = pd.Timestamp(start)
    if grain == "week":
        iso = ts.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if grain == "month":
        return ts.strftime("%Y-%m")
    return ts.strftime("%Y-%m-%d")


def end_exclusive(df: pd.DataFrame, col: str = "period_end_date") -> pd.Series:
    """Period end + 1 day, for bands that cover the whole last day."""
    return pd.to_datetime(df[col]) + timedelta(days=1)
