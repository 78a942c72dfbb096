"""Review queue: open return lines routed to manual review, with priority and rules."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = ("sig_review_queue",)
SHOWN = 1000
RULES = ("is_risky_customer", "is_premium_product", "is_high_value", "is_fragile_damage_claim")


def _where(f: ui.Filters) -> tuple[str, list]:
    return "(? is null or category = ?)", [f.category, f.category]


def summary(f: ui.Filters) -> pd.DataFrame:
    """Open lines, lines routed to review and the share auto-approved."""
    where, params = _where(f)
    return data.query(
        "select count(*) as open_return_lines, "
        "count(*) filter (where route_to_review) as routed_to_review, "
        "count(*) filter (where decision = 'auto_approve') as auto_approved, "
        "count(*) filter (where decision = 'auto_approve') / nullif(count(*), 0) "
        "as share_auto_approved, "
        "sum(returned_value_eur) filter (where route_to_review) as value_in_review_eur "
        f"from marts.sig_review_queue where {where}",
        params,
    )


def by_rule(f: ui.Filters) -> pd.DataFrame:
    """Lines in review per rule and priority (a line with several rules counts in each)."""
    where, params = _where(f)
    return data.query(
        "select rule, priority, count(*) as return_lines from ("
        "  select unnest(string_split(review_rules, ' ')) as rule, priority "
        f"  from marts.sig_review_queue where route_to_review and {where}"
        ") where rule <> '' group by all order by priority, rule",
        params,
    )


def queue(f: ui.Filters, decision: str) -> pd.DataFrame:
    """The queue, highest priority and longest open first."""
    where, params = _where(f)
    return data.query(
        "select priority, review_rules, rma_id, order_line_id, sku, category, reason, "
        "resolution, return_status, returned_quantity, returned_value_eur, days_open, "
        "customer_risk_score, requested_at, decision "
        f"from marts.sig_review_queue where {where} and decision = ? "
        "order by priority nulls last, days_open desc, rma_id, order_line_id "
        f"limit {SHOWN}",
        [*params, decision],
    )


def render() -> None:
    """Draw the page."""
    ui.page("Return review queue", NEEDS)
    f = ui.filters(period=False, slices=("category",))
    st.caption(
        "Open return lines (not yet refunded) routed to manual review by explicit rules: risky "
        "customer, premium product, high value, fragile damage claim. The rest is auto-approved."
    )
    s = summary(f).iloc[0]
    cols = st.columns(4)
    cols[0].metric("Open return lines", ui.num(s["open_return_lines"]))
    cols[1].metric("Routed to review", ui.num(s["routed_to_review"]))
    cols[2].metric("Share auto-approved", ui.pct(s["share_auto_approved"]))
    cols[3].metric("Value in review", ui.eur(s["value_in_review_eur"]))

    rules = by_rule(f)
    if not rules.empty:
        ui.chart(
            alt.Chart(rules)
            .mark_bar()
            .encode(
                y=alt.Y("rule:N", title=None, sort="-x"),
                x=alt.X("return_lines:Q", title="Return lines in review"),
                color=alt.Color(
                    "priority:O", title="Priority", scale=alt.Scale(scheme="reds", reverse=True)
                ),
                tooltip=["rule:N", "priority:O", "return_lines:Q"],
            )
            .properties(height=180)
        )
    st.subheader("Manual review")
    review = queue(f, "manual_review")
    if review.empty:
        st.success("Nothing to review for this selection.")
    else:
        if len(review) == SHOWN:
            st.caption(f"The first {SHOWN} lines by priority; the export below has all of them.")
        ui.table(review, "review_queue_manual")
    with st.expander("Auto-approved lines"):
        ui.table(queue(f, "auto_approve"), "review_queue_auto_approved")

    export = data.exports_dir() / "review_queue.csv"
    if export.exists():
        st.download_button(
            "Download the pipeline's review_queue.csv export",
            export.read_bytes(),
            file_name="review_queue.csv",
            mime="text/csv",
            key="dl_review_export",
        )
    else:
        st.caption(f"The pipeline's export `{export}` is not there yet. {ui.RUN_HINT}")


if __name__ == "__main__":
    render()
