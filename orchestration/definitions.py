"""The Returnlens Dagster code location: everything under `orchestration/defs/`."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Load every `@dg.definitions` function of the defs folder."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs")
