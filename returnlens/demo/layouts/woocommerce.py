from pathlib import Path

import duckdb


def write_woocommerce(out: Path, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    raise NotImplementedError
