"""Order-independent checksums of the published marts, so two runs can be compared.

For every table of the serving database's `marts` schema: its row count, its columns (name and
type, in order) and a checksum of its content that does not depend on the order of the rows.
Each row is cast to text exactly as DuckDB writes it (a struct of all its columns: names and
values, doubles in their shortest exact form, nothing rounded), hashed with MD5, and the two
64-bit halves of the hashes (read little-endian, as DuckDB's `md5_number_upper` and
`md5_number_lower` do) are summed over the table, modulo 2^64 each, and written as 32 hex
digits: the same rows in any order give the same checksum; one changed value, one row more or
fewer, a renamed column give another. Only two runs with the same PII salt
(`RETURNLENS_PII_SALT`) can match: customer keys are salted hashes.

Some columns differ from run to run by nature: the ids and times of the run, the load and the
publish. `--ignore TABLE` or `--ignore TABLE.COLUMN` leaves them out, and
`--ignore-run-metadata` leaves out the known ones (`RUN_METADATA`); what was left out is part of
the result, and two results are compared only when they left out the same.

A mart that sums or averages doubles is not always bit-for-bit reproducible: DuckDB adds them in
the order its threads finish, so the last bits may differ between two runs of the same code on
the same data, and a difference of two such sums that should be 0 comes out as 1e-12. By default
the checksum does not round them away; `--double-decimals N` rounds every DOUBLE/FLOAT value to
N decimals before hashing (e.g. 9: far below any unit, rate or amount a mart reports, far above
the noise), so such noise compares equal and a real change does not. The precision is part
of the result, and two results are compared only when they used the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from returnlens.publish import PUBLISHED_SCHEMA
from returnlens.warehouse import connect, quote_ident

# Columns whose values identify or time the run itself, not the data: they differ between two
# runs on the same landing files by nature.
RUN_METADATA = (
    "publish_log.published_at",
    "publish_log.run_id",
    "publish_log.publish_id",
    "publish_log.refreshed_at",
    "publish_log.file_started_at",
    "publish_gate_results.run_id",
    "publish_gate_results.evaluated_at",
    "rpt_load_audit.load_id",
    "rpt_load_audit.started_at",
    "rpt_load_audit.finished_at",
)


class ChecksumError(ValueError):
    """The checksums cannot be computed or compared (the message says what to do)."""


@dataclass(frozen=True)
class TableChecksum:
    """One published table: rows, columns (`name TYPE`, in order) and content checksum."""

    rows: int
    checksum: str
    columns: list[str]


@dataclass
class MartChecksums:
    """The checksums of every table of a serving database's marts schema."""

    serving: str
    ignored: list[str]
    tables: dict[str, TableChecksum]
    double_decimals: int | None = None

    def to_json(self) -> str:
        """The result as JSON (what `--compare` reads back)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MartChecksums:
        """Read a result written by `to_json`."""
        try:
            data = json.loads(text)
            return cls(
                serving=data["serving"],
                ignored=list(data["ignored"]),
                tables={name: TableChecksum(**t) for name, t in data["tables"].items()},
                double_decimals=data.get("double_decimals"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ChecksumError(
                "not a result of `returnlens checksums --json` (write one with that command)"
            ) from exc

    def format(self) -> str:
        """One line per table: name, rows, checksum; then what was left out."""
        lines = [f"{len(self.tables)} tables in {PUBLISHED_SCHEMA} of {self.serving}"]
        lines += [
            f"  {name:<40} {t.rows:>12,}  {t.checksum}" for name, t in sorted(self.tables.items())
        ]
        if self.ignored:
            lines.append(f"left out: {', '.join(self.ignored)}")
        return "\n".join(lines)


FLOATING = ("DOUBLE", "FLOAT", "REAL")


def _row_text(columns: list[tuple[str, str]], double_decimals: int | None = None) -> str:
    """SQL for a row as text: a struct of the columns, cast to varchar; exact, or with doubles
    rounded to `double_decimals` decimals."""
    if not columns:
        return "'{}'"

    def value(column: str, dtype: str) -> str:
        if double_decimals is not None and dtype.upper() in FLOATING:
            return f"round({quote_ident(column)}, {int(double_decimals)}) + 0.0"
        return quote_ident(column)

    fields = ", ".join(f"{quote_ident(c)} := {value(c, t)}" for c, t in columns)
    return f"cast(struct_pack({fields}) as varchar)"


def _exists(name: str, columns: dict[str, list[tuple[str, str]]]) -> bool:
    """Whether `name` is a table (`t`) or a column (`t.c`) of the schema."""
    table, _, column = name.partition(".")
    if not column:
        return table in columns
    return column in {c for c, _ in columns.get(table, [])}


def mart_checksums(
    serving: Path,
    ignore: Iterable[str] = (),
    *,
    run_metadata: bool = False,
    double_decimals: int | None = None,
) -> MartChecksums:
    """Checksums of every table of the marts schema of `serving`, opened read-only.

    `ignore` names tables (`kpi_nps`) or columns (`publish_log.run_id`) to leave out; each must
    exist. With `run_metadata`, the columns of `RUN_METADATA` that exist are left out too. With
    `double_decimals`, doubles are rounded to that many decimals (0 to 15) before hashing.
    """
    if double_decimals is not None and not 0 <= double_decimals <= 15:
        raise ChecksumError(f"--double-decimals {double_decimals}: give 0 to 15 decimals.")
    if not serving.exists():
        raise ChecksumError(f"No serving database at {serving}: run `make run` first.")
    con = connect(serving, read_only=True)
    try:
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, dtype in con.execute(
            "select table_name, column_name, data_type from duckdb_columns() "
            "where schema_name = ? and database_name = current_database() "
            "order by table_name, column_index",
            [PUBLISHED_SCHEMA],
        ).fetchall():
            columns.setdefault(table, []).append((column, dtype))
        asked = sorted(set(ignore))
        unknown = [name for name in asked if not _exists(name, columns)]
        if unknown:
            raise ChecksumError(
                f"--ignore {', '.join(unknown)}: no such table or column in "
                f"{PUBLISHED_SCHEMA} of {serving} (name a table, or a column as TABLE.COLUMN)."
            )
        left_out = set(asked)
        if run_metadata:
            left_out |= {name for name in RUN_METADATA if _exists(name, columns)}
        tables: dict[str, TableChecksum] = {}
        for table, cols in columns.items():
            if table in left_out:
                continue
            kept = [(c, t) for c, t in cols if f"{table}.{c}" not in left_out]
            rows, upper, lower = con.execute(
                "select count(*), coalesce(sum(md5_number_upper(_row)), 0), "
                "coalesce(sum(md5_number_lower(_row)), 0) "
                f"from (select {_row_text(kept, double_decimals)} as _row "
                f"from {PUBLISHED_SCHEMA}.{quote_ident(table)})"
            ).fetchall()[0]
            tables[table] = TableChecksum(
                rows=rows,
                checksum=f"{int(upper) % 2**64:016x}{int(lower) % 2**64:016x}",
                columns=[f"{c} {t}" for c, t in kept],
            )
    finally:
        con.close()
    return MartChecksums(str(serving), sorted(left_out), tables, double_decimals)


def differences(current: MartChecksums, other: MartChecksums) -> list[str]:
    """What differs between two results, one line per table; [] when all tables are equal."""
    if current.ignored != other.ignored:
        raise ChecksumError(
            "the two results left out different tables or columns "
            f"(here: {', '.join(current.ignored) or 'nothing'}; there: "
            f"{', '.join(other.ignored) or 'nothing'}): compute both with the same --ignore "
            "and --ignore-run-metadata options."
        )
    if current.double_decimals != other.double_decimals:
        raise ChecksumError(
            "the two results hashed doubles at different precisions (here: "
            f"{current.double_decimals or 'exact'}; there: {other.double_decimals or 'exact'}): "
            "compute both with the same --double-decimals option."
        )
    found = []
    for name in sorted(set(current.tables) | set(other.tables)):
        here, there = current.tables.get(name), other.tables.get(name)
        if there is None:
            found.append(f"{name}: only here")
        elif here is None:
            found.append(f"{name}: only in the other result")
        elif here.columns != there.columns:
            found.append(f"{name}: columns differ ({_column_change(here, there)})")
        elif here.rows != there.rows:
            found.append(f"{name}: {here.rows:,} rows here, {there.rows:,} there")
        elif here.checksum != there.checksum:
            found.append(f"{name}: same {here.rows:,} rows, different content")
    return found


def _column_change(here: TableChecksum, there: TableChecksum) -> str:
    added = [c for c in here.columns if c not in there.columns]
    removed = [c for c in there.columns if c not in here.columns]
    parts = []
    if added:
        parts.append(f"only here: {', '.join(added)}")
    if removed:
        parts.append(f"only there: {', '.join(removed)}")
    return "; ".join(parts) or "same columns in another order"


__all__ = [
    "RUN_METADATA",
    "ChecksumError",
    "MartChecksums",
    "TableChecksum",
    "differences",
    "mart_checksums",
]
