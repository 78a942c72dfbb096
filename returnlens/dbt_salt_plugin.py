"""dbt-duckdb plugin: hand the PII salt and the memory settings to every dbt connection.

profiles.yml lists this module under `plugins:`. For each cursor dbt opens it runs
`set variable returnlens_pii_salt = ?` with the salt as a bound parameter, and the macro
`hash_customer_id` reads it with `getvariable('returnlens_pii_salt')`. So the salt is never part
of compiled SQL, `target/` (manifest, run results, compiled and run files), dbt's logs or the
warehouse's view definitions, which hold only `getvariable(...)`. The salt is resolved by
`returnlens.config.pii_salt` (env var or the installation's salt file).

The first connection also gets the database's `memory_limit`, `threads` and `temp_directory`
(spill folder) from the memory budget, as every DuckDB database Returnlens opens
(`returnlens.warehouse.duckdb_config`). These are per database: dbt's threads share them.
dbt's database also does not preserve insertion order: no model promises a row order (none
ends in ORDER BY), so a table's rows are written as the threads finish them instead of being
held back in scan order (issue 16: memory at 10M order lines).
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from returnlens.config import pii_salt
from returnlens.warehouse import duckdb_config

SALT_VARIABLE = "returnlens_pii_salt"


class Plugin(BasePlugin):
    """Sets the DuckDB variable `returnlens_pii_salt` on every dbt cursor."""

    def configure_connection(self, conn) -> None:
        """The connection dbt opens first (also used for some statements)."""
        for name, value in duckdb_config().items():
            conn.execute(f"set {name} = ?", [value])
        conn.execute("set preserve_insertion_order = false")
        conn.execute(f"set variable {SALT_VARIABLE} = ?", [pii_salt()])

    def configure_cursor(self, cursor) -> None:
        """Each thread's cursor: DuckDB variables belong to one connection."""
        cursor.execute(f"set variable {SALT_VARIABLE} = ?", [pii_salt()])
