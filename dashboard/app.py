"""Returnlens dashboard: `make dashboard` (streamlit run dashboard/app.py).

Reads only the published serving database (RETURNLENS_SERVING, default data/serving.duckdb),
read-only, one short connection per query; see dashboard/data.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import streamlit as st  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"
PAGES = [
    ("overview.py", "Overview", ":material/monitoring:"),
    ("quality.py", "Quality", ":material/verified:"),
    ("customers.py", "Customers & keep-it", ":material/group:"),
    ("interventions.py", "Interventions", ":material/science:"),
    ("planning.py", "Planning", ":material/inventory_2:"),
    ("behaviour.py", "Behaviour", ":material/touch_app:"),
    ("review_queue.py", "Review queue", ":material/fact_check:"),
    ("data_health.py", "Data health", ":material/health_and_safety:"),
]

st.set_page_config(page_title="Returnlens", page_icon=":material/undo:", layout="wide")
navigation = st.navigation(
    [
        st.Page(VIEWS / file, title=title, icon=icon, default=i == 0)
        for i, (file, title, icon) in enumerate(PAGES)
    ]
)
st.sidebar.caption("Returnlens · returns warehouse")
try:
    navigation.run()
except (duckdb.CatalogException, duckdb.BinderException) as exc:
    # A serving file published by an older pipeline than this dashboard: say what to do.
    st.warning(
        "The published marts do not have what this page reads (they were published by an "
        "older version of the pipeline). Run `make run` to publish them again.\n\n"
        f"Details: {str(exc).splitlines()[0]}",
        icon=":material/update:",
    )
