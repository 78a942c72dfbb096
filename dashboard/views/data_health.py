"""Data health: the last publish, its quality gates, the load audit, unmapped reason texts."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, ui


def publish_log() -> pd.DataFrame:
    """The publish log of the serving file (one row per publish it carries)."""
    return data.query(
        "select published_at, run_id, gates_passed, tables, gate_results "
        "from marts.publish_log order by published_at desc"
    )


def gate_results() -> pd.DataFrame:
    """Every gate suite of the published run (marts.publish_gate_results)."""
    return data.query(
        "select suite, relation, passed, failed, warnings, row_count, summary, evaluated_at "
        "from marts.publish_gate_results order by passed, failed desc, warnings desc, suite"
    )


# audit statuses of landing files that are no entity's delivery (see returnlens.ingest.landing)
UNLOADED_STATUSES = ("unrecognised", "refused", "ignored")


def load_audit() -> pd.DataFrame:
    """Current state of every delivery: its latest load (marts.rpt_load_audit)."""
    return data.query(
        "select entity, landing_path, status, rows_in, rows_loaded, rows_quarantined, "
        "is_file_quarantined, size_bytes, finished_at, error, extra_columns, load_id "
        "from marts.rpt_load_audit where is_latest_load_of_file and entity is not null "
        "order by is_file_quarantined desc, rows_quarantined desc, entity, landing_path"
    )


def unloaded_files() -> pd.DataFrame:
    """Files under the landing folder that are no delivery: unrecognised, refused, ignored."""
    return data.query(
        "select landing_path, status, error, size_bytes, finished_at "
        "from marts.rpt_load_audit where is_latest_load_of_file and status in (?, ?, ?) "
        "order by case status when 'unrecognised' then 0 when 'refused' then 1 else 2 end, "
        "landing_path",
        list(UNLOADED_STATUSES),
    )


def unmapped_texts() -> pd.DataFrame:
    """Free-text reasons the taxonomy does not map yet (marts.rpt_unmapped_reason_texts)."""
    return data.query(
        "select reason_text_normalised, return_lines, return_lines_unknown_reason, "
        "suggested_reason, first_requested_at, last_requested_at "
        "from marts.rpt_unmapped_reason_texts order by return_lines desc, reason_text_normalised"
    )


def profile_values() -> pd.DataFrame:
    """Delivered values of the shop profile's value sets (marts.rpt_profile_values)."""
    return data.query(
        "select value_set, entity, column_name, delivered_value, row_count, value_set_kind, "
        "is_listed from marts.rpt_profile_values "
        "order by is_listed, value_set, entity, column_name, row_count desc"
    )


def referential_integrity() -> pd.DataFrame:
    """Rows kept although their parent is missing, per orphan kind (rpt_referential_integrity)."""
    return data.query(
        "select orphan_kind, relation, parent_relation, description, orphan_rows, total_rows, "
        "orphan_share, tolerance_share, tolerance_setting, status, message "
        "from marts.rpt_referential_integrity "
        "order by status = 'over_tolerance' desc, orphan_share desc nulls last, orphan_kind"
    )


def return_completeness() -> pd.DataFrame:
    """Returns per order month against the shop's own history (rpt_return_completeness)."""
    return data.query(
        "select period_start_date, orders, orders_with_return, return_rate_orders, "
        "reference_return_rate, ratio_to_reference, status, message "
        "from marts.rpt_return_completeness order by period_start_date"
    )


def return_states() -> pd.DataFrame:
    """Open, closed and stale return lines per request month (marts.rpt_return_states)."""
    return data.query(
        "select requested_month_start_date, return_lines, open_lines, closed_lines, "
        "cancelled_lines, rejected_lines, stale_lines, lines_decided_by_status, "
        "lines_decided_by_timestamps, lines_with_unknown_status, max_open_age_days, "
        "stale_tolerance_share from marts.rpt_return_states order by requested_month_start_date"
    )


def unmapped_statuses() -> pd.DataFrame:
    """Status values the status map does not know (marts.rpt_unmapped_return_statuses)."""
    return data.query(
        "select source_status, return_lines, open_lines, closed_lines, stale_lines, "
        "first_requested_at, last_requested_at from marts.rpt_unmapped_return_statuses "
        "order by return_lines desc, source_status"
    )


def render_return_states(tables: set[str] | list[str]) -> None:
    """How open and closed returns were decided; stale ones are counted, never queued."""
    st.subheader("Open, closed and stale returns")
    if "rpt_return_states" not in tables:
        st.info(f"Not published yet. {ui.RUN_HINT}")
        return
    months = return_states()
    total, stale = int(months["return_lines"].sum()), int(months["stale_lines"].sum())
    if total and stale > months["stale_tolerance_share"].max() * total:
        st.warning(
            f"{stale} of {total} return lines are stale: no known status and no refund "
            f"(exchanges: inspection), requested more than {int(months['max_open_age_days'].max())} "
            "days before the data's as-of moment. They are left out of the review queue. Deliver "
            "the portal's status or its processing timestamps (docs/contracts/returns.md), or "
            "raise open_return_slack_days (docs/kpis.md)."
        )
    else:
        st.caption(
            "A return's state comes from the portal's status where it delivers a known one, else "
            "from its timestamps; one without either, requested too long ago, is stale (docs/kpis.md)."
        )
    ui.table(months, "return_states")
    if "rpt_unmapped_return_statuses" in tables:
        statuses = unmapped_statuses()
        if not statuses.empty:
            st.caption(
                "Status values seeds/return_status_map.csv does not know (their timestamps decided): "
                "add them with their state."
            )
            ui.table(statuses, "unmapped_return_statuses")


def render_integrity(tables: set[str] | list[str]) -> None:
    """Orphans and incomplete months: kept and counted, gated by share and history."""
    st.subheader("Referential integrity")
    if "rpt_referential_integrity" not in tables:
        st.info(f"Not published yet. {ui.RUN_HINT}")
    else:
        orphans = referential_integrity()
        over = orphans[orphans["status"] == "over_tolerance"]
        present = orphans[orphans["orphan_rows"] > 0]
        if not over.empty:
            st.error(
                f"{len(over)} kind(s) of orphan rows are over their tolerance: "
                + "; ".join(over["message"].dropna())
            )
        elif present.empty:
            st.success("Every row's parent is in its export.")
        else:
            st.caption(
                "Rows whose parent is missing from its export (quarantined or not delivered) are "
                "kept and flagged in the marts; each kind is gated by its share."
            )
        ui.table(orphans, "referential_integrity")

    st.subheader("Completeness of returns per order month")
    if "rpt_return_completeness" not in tables:
        st.info(f"Not published yet. {ui.RUN_HINT}")
        return
    months = return_completeness()
    collapsed = months[months["status"] == "collapsed"]
    if not collapsed.empty:
        st.error(
            "Returns look incomplete for "
            + ", ".join(str(d)[:7] for d in collapsed["period_start_date"])
            + ": check for a returns file that was not loaded (Landing files not loaded above)."
        )
    ui.table(months, "return_completeness")


def render() -> None:
    """Draw the page."""
    info = ui.page("Data health", ("publish_log", "publish_gate_results"))
    tables = data.published_tables()

    st.subheader("Last publish")
    log = publish_log()
    latest = log.iloc[0]
    marts = json.loads(latest["tables"] or "{}")
    cols = st.columns(4)
    cols[0].metric("Published (UTC)", info.published_at.strftime("%Y-%m-%d %H:%M"))
    cols[1].metric("Marts published", ui.num(len(marts)))
    cols[2].metric("Gate suites", ui.num(info.gates_total))
    cols[3].metric("Gate suites failed", ui.num(info.gates_failed))
    st.caption(
        f"Run `{latest['run_id']}`. A run whose gates fail is never published: the file above "
        "stays as it was, so a failed later run shows up here as an old publish date."
    )
    counts = pd.DataFrame(sorted(marts.items()), columns=["mart", "rows"])
    with st.expander(f"Row counts of the {len(counts)} published marts"):
        ui.table(counts, "published_marts")

    st.subheader("Quality gates of the published run")
    gates = gate_results()
    if gates.empty:
        st.info("The published run recorded no gate results.")
    else:
        cols = st.columns(3)
        cols[0].metric("Suites passed", f"{int(gates['passed'].sum())} / {len(gates)}")
        cols[1].metric("Failed expectations", ui.num(gates["failed"].sum()))
        cols[2].metric("Warnings", ui.num(gates["warnings"].sum()))
        ui.table(gates, "gate_results", height=320)

    if "rpt_source_availability" in tables:
        st.subheader("Sources delivered")
        sources = data.query(
            "select landing_source, entity, is_optional, is_delivered, files, rows_loaded, "
            "marts_affected, message from marts.rpt_source_availability "
            "order by is_delivered, is_optional, landing_source, entity"
        )
        for message in sources.loc[~sources["is_delivered"], "message"]:
            st.info(message.capitalize() + ".", icon=":material/block:")
        ui.table(sources, "source_availability")

    if "rpt_profile_values" in tables:
        st.subheader("Values and the shop profile")
        values = profile_values()
        unlisted = values[~values["is_listed"]]
        if unlisted.empty:
            st.success(
                "Every delivered category, country, channel and currency is listed in the profile."
            )
        else:
            st.warning(
                f"{len(unlisted)} delivered value(s) are not listed in the shop profile: they are "
                "loaded and kept (their value sets are open). List them under `values` in "
                "returnlens.yml, or close the set to quarantine them (docs/profile.md)."
            )
        ui.table(values, "profile_values")

    st.subheader("Files loaded and quarantined")
    if "rpt_load_audit" not in tables:
        st.info(f"The load audit is not published yet. {ui.RUN_HINT}")
    else:
        audit = load_audit()
        if audit.empty:
            st.info("No landing files have been loaded.")
        else:
            cols = st.columns(4)
            cols[0].metric("Files", ui.num(len(audit)))
            cols[1].metric("Files quarantined", ui.num(audit["is_file_quarantined"].sum()))
            cols[2].metric("Rows loaded", ui.num(audit["rows_loaded"].sum()))
            cols[3].metric("Rows quarantined", ui.num(audit["rows_quarantined"].sum()))
            rows = audit.melt(
                id_vars=["entity"],
                value_vars=["rows_loaded", "rows_quarantined"],
                var_name="outcome",
                value_name="rows",
            )
            rows["outcome"] = rows["outcome"].map(
                {"rows_loaded": "loaded", "rows_quarantined": "quarantined"}
            )
            ui.chart(
                alt.Chart(rows)
                .mark_bar()
                .encode(
                    y=alt.Y("entity:N", title=None, sort="-x"),
                    x=alt.X("sum(rows):Q", title="Rows (latest load of each file)"),
                    color=alt.Color(
                        "outcome:N",
                        scale=alt.Scale(
                            domain=["loaded", "quarantined"], range=["#90a4ae", "#e53935"]
                        ),
                    ),
                    tooltip=["entity:N", "outcome:N", alt.Tooltip("sum(rows):Q", format=",")],
                )
                .properties(height=260)
            )
            failed = audit[audit["is_file_quarantined"]]
            if not failed.empty:
                st.error(f"{len(failed)} file(s) were quarantined whole: fix and deliver again.")
                ui.table(failed[["entity", "landing_path", "error"]], "quarantined_files")
            ui.table(audit, "load_audit", height=320)
        render_unloaded(unloaded_files())
    render_integrity(tables)
    render_return_states(tables)

    st.subheader("Unmapped reason texts")
    if "rpt_unmapped_reason_texts" not in tables:
        st.info(f"Not published yet. {ui.RUN_HINT}")
    else:
        texts = unmapped_texts()
        if texts.empty:
            st.success("Every free-text return reason maps to the taxonomy.")
        else:
            st.caption(
                "Add frequent texts to seeds/reason_text_map.csv; suggested_reason is what the "
                "portal codes of lines with the text say most often."
            )
        ui.table(texts, "unmapped_reason_texts")


def render_unloaded(files: pd.DataFrame) -> None:
    """Files under the landing folder that were not loaded, with what to do about each."""
    st.subheader("Landing files not loaded")
    if files.empty:
        st.success("Every file under the landing folder is a delivery the contracts accept.")
        return
    waiting = files[files["status"] != "ignored"]
    cols = st.columns(3)
    for col, status in zip(cols, UNLOADED_STATUSES, strict=True):
        col.metric(f"Files {status}", ui.num((files["status"] == status).sum()))
    if not waiting.empty:
        st.warning(
            f"{len(waiting)} file(s) under the landing folder match no delivery pattern or are "
            "links, so none of their rows are loaded: rename, move or export them again as "
            "each message says (a missing month of data is often one of these)."
        )
    ui.table(files, "landing_files_not_loaded")


if __name__ == "__main__":
    render()
