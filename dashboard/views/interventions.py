"""Interventions: what the shop changed to lower returns (interventions landing source), when
and where, and the effect measured on the return rate by difference-in-differences against
comparable untouched scopes, with its 95 % interval, or "too early to tell" until the cohorts
it rests on are mature (marts.sig_intervention_effects)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui

NEEDS = ("sig_intervention_effects",)
METRICS = {
    "return_rate": "Return rate",
    "target_reason_rate": "Rate of the targeted reason",
}
STATES = {
    "estimated": "estimated",
    "too_early_to_tell": "too early to tell",
    "no_treated_lines": "no order lines in scope",
    "no_control": "no comparable scope",
}


def effects() -> pd.DataFrame:
    """Every intervention x metric with its state, effect and interval (percentage points
    are the page's; the mart holds shares of order lines)."""
    return data.query(
        "select intervention_id, kind, description, scope_type, scope_value, start_date, "
        "target_reason, metric, state, is_mature, mature_on_date, effect, effect_lower_95, "
        "effect_upper_95, effect_standard_error, is_significant, treated_rate_pre, "
        "treated_rate_post, control_rate_change, treated_lines_pre, treated_lines_post, "
        "control_scopes, control_lines_pre, control_lines_post, pre_from_date, "
        "post_from_date, post_until_date, pre_cohorts, post_cohorts "
        "from marts.sig_intervention_effects "
        "order by start_date, intervention_id, metric"
    )


def _scope(row: pd.Series) -> str:
    if row["scope_type"] == "all" or row["scope_value"] is None or pd.isna(row["scope_value"]):
        return "whole shop"
    return f"{row['scope_type']} {row['scope_value']}"


def _verdict(row: pd.Series) -> str:
    """The effect in words: a cut, a rise or no measurable effect (the interval holds 0)."""
    if row["state"] != "estimated":
        if row["state"] == "too_early_to_tell":
            return f"too early to tell (final from {row['mature_on_date']:%Y-%m-%d})"
        return STATES.get(row["state"], row["state"])
    effect, low, high = (
        100 * float(row[c]) for c in ("effect", "effect_lower_95", "effect_upper_95")
    )
    words = (
        "fewer returns"
        if high < 0
        else "more returns"
        if low > 0
        else "no measurable effect (the interval holds 0)"
    )
    return f"{effect:+.1f} pp [{low:+.1f}, {high:+.1f}]: {words}"


def render() -> None:
    """Draw the page."""
    ui.page("Interventions", NEEDS)
    df = effects()
    if df.empty:
        st.info(
            "No interventions recorded. Add the changes the shop made (a clearer return form, a "
            "fixed size guide, new packaging) to the interventions landing file "
            "(docs/contracts/) and run `make run` again to measure their effect."
        )
        return
    st.caption(
        "Each change's effect on the share of order lines returned in its scope: the change of "
        "the scope's return rate from the order weeks before the start to as many after, "
        "minus the change of comparable untouched scopes over the same weeks "
        "(difference-in-differences), with a 95 % interval. Negative = fewer returns. Until the "
        "last order week after the start is mature (its return window has closed) the effect is "
        'not given: "too early to tell" (docs/kpis.md, "Intervention effects").'
    )
    rate = df[df["metric"] == "return_rate"]
    estimated = rate[rate["state"] == "estimated"]
    cols = st.columns(4)
    cols[0].metric("Interventions", ui.num(rate["intervention_id"].nunique()))
    cols[1].metric("Effect estimated", ui.num(len(estimated)))
    cols[2].metric(
        "Fewer returns (interval below 0)",
        ui.num(int((estimated["effect_upper_95"] < 0).sum())),
    )
    cols[3].metric("Too early to tell", ui.num(int((rate["state"] == "too_early_to_tell").sum())))

    metric = st.radio(
        "Effect on",
        list(METRICS),
        format_func=METRICS.get,
        horizontal=True,
        key="intervention_metric",
        help="The rate of the targeted reason exists for interventions that name one.",
    )
    chosen = df[df["metric"] == metric]
    shown = chosen[chosen["state"] == "estimated"].assign(
        intervention=lambda d: d["intervention_id"] + " · " + d["kind"],
        scope=lambda d: d.apply(_scope, axis=1),
        effect_pp=lambda d: 100 * d["effect"].astype(float),
        lower_pp=lambda d: 100 * d["effect_lower_95"].astype(float),
        upper_pp=lambda d: 100 * d["effect_upper_95"].astype(float),
        verdict=lambda d: (
            d["is_significant"]
            .astype("boolean")
            .fillna(False)
            .map({True: "interval excludes 0", False: "interval holds 0"})
        ),
    )
    st.subheader("Measured effect with its 95 % interval")
    if shown.empty:
        st.info("No effect of this kind can be estimated yet.")
    else:
        base = alt.Chart(shown).encode(
            y=alt.Y("intervention:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)),
            tooltip=[
                "intervention:N",
                "scope:N",
                alt.Tooltip("start_date:T", title="start"),
                alt.Tooltip("effect_pp:Q", format="+.2f", title="effect (pp)"),
                alt.Tooltip("lower_pp:Q", format="+.2f", title="lower 95 (pp)"),
                alt.Tooltip("upper_pp:Q", format="+.2f", title="upper 95 (pp)"),
                "treated_lines_post:Q",
                "control_scopes:Q",
            ],
        )
        color = alt.Color(
            "verdict:N",
            title="",
            scale=alt.Scale(
                domain=["interval excludes 0", "interval holds 0"], range=["#1565c0", "#9e9e9e"]
            ),
        )
        ui.chart(
            (
                base.mark_rule(strokeWidth=2).encode(
                    x=alt.X(
                        "lower_pp:Q",
                        title=f"Effect on the {METRICS[metric].lower()} (percentage points)",
                    ),
                    x2="upper_pp:Q",
                    color=color,
                )
                + base.mark_point(filled=True, size=90).encode(x="effect_pp:Q", color=color)
                + alt.Chart(pd.DataFrame({"zero": [0.0]}))
                .mark_rule(color="#424242", strokeDash=[4, 4])
                .encode(x="zero:Q")
            ).properties(height=alt.Step(36))
        )
    waiting = chosen[chosen["state"] != "estimated"]
    for row in waiting.itertuples():
        st.info(
            f"**{row.intervention_id}** ({row.kind}, {_scope(pd.Series(row._asdict()))}, from "
            f"{row.start_date:%Y-%m-%d}): {_verdict(pd.Series(row._asdict()))}.",
            icon=":material/hourglass_empty:",
        )

    st.subheader("What changed, when, and what it did")
    table = df.assign(
        scope=df.apply(_scope, axis=1),
        state=df["state"].map(STATES).fillna(df["state"]),
        effect_in_words=df.apply(_verdict, axis=1),
    )
    lead = ["intervention_id", "kind", "description", "scope", "start_date", "metric", "state"]
    rest = [c for c in df.columns if c not in lead]
    ui.table(
        table[[*lead, "effect_in_words", *rest]],
        "intervention_effects",
    )


if __name__ == "__main__":
    render()
