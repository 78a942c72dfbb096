"""The Returnlens dashboard (Streamlit): reads the published serving database only."""
