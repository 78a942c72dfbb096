"""What every platform adapter shares: its description, the mapping seeds, SQL helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from returnlens.config import PROJECT_ROOT
from returnlens.ingest.contracts import Entity
from returnlens.ingest.read_failures import raise_if_out_of_memory
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

if TYPE_CHECKING:
    from returnlens.profile import ShopProfile

# the column of `_stage` with the problems an adapter found ('' when none)
ADAPTER_REASON = "_adapter_reason"
SEEDS_DIR = PROJECT_ROOT / "seeds"


@dataclass(frozen=True)
class Adapter:
    """One platform: its landing entity and how a file of it becomes rows of that entity."""

    name: str  # the platform, also its landing folder
    label: str  # what its files are, for messages
    shape: str  # the JSON shape a file must have, for messages
    entity: Entity
    # (path DuckDB reads, file identity, file order) -> a select of the entity's columns as
    # text, _extra, _source_file, _file_order, _file_row_number, _adapter_reason
    flatten: Callable[[str, str, int], str]
    seeds: tuple[str, ...]  # mapping seeds (seeds/<name>.csv) the flatten select joins
    item: str = "returned item"  # what one row is, for messages
    # what else of the landing folder its rows depend on (a setting, other files), as text:
    # part of the contract hash, so the files are read again when it changes
    fingerprint: Callable[[Path], str] | None = None
    # what the flatten selects of a batch join from other files, staged once per batch (given
    # the batch's landing paths) as temp tables, so those files are not read once per file
    prepare: Callable[[duckdb.DuckDBPyConnection, list[Path]], None] | None = None


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """DuckDB running out of memory inside the block fails the load with `MemoryBudgetExceeded`
    naming the memory setting and `what` was being read (a file's name relative to the landing
    root): the file is not at fault, so it must not be failed or quarantined for it. Put it
    inside the `try` that fails unreadable files, so that it sees the error first."""
    try:
        yield
    except duckdb.Error as exc:
        raise_if_out_of_memory(exc, f"The loader (reading {what})")
        raise


def stage_rows(con: duckdb.DuckDBPyConnection, entity: Entity, select: str, order: int) -> int:
    """Insert an adapter's flattened rows of one file (`select`: the entity's columns, then
    `_extra`, `_source_file`, `_file_order`, `_file_row_number` and the adapter's reason) into
    the loader's `_stage`; returns how many rows the file staged."""
    names = ", ".join(qi(c.name) for c in entity.columns)
    con.execute(
        f"insert into _stage ({names}, _extra, _source_file, _file_order, "
        f"_file_row_number, {ADAPTER_REASON}) {select}"
    )
    return con.execute("select count(*) from _stage where _file_order = ?", [order]).fetchall()[0][
        0
    ]


def register_seeds(con: duckdb.DuckDBPyConnection, seeds: tuple[str, ...]) -> None:
    """Each mapping seed as a temp table of text (`_seed_<name>`), read from seeds/<name>.csv."""
    for seed in seeds:
        path = SEEDS_DIR / f"{seed}.csv"
        con.execute(
            f"create or replace temp table {qi('_seed_' + seed)} as select * from "
            f"read_csv({ql(str(path))}, header = true, all_varchar = true, auto_detect = true)"
        )


def utc_text(expr: str) -> str:
    """An ISO 8601 timestamp with an offset (`2024-01-31T13:02:05+01:00`) as the contracts'
    UTC text (`2024-01-31 12:02:05`, fractions kept); text without an offset, or that is not a
    timestamp, unchanged (the contract check then judges it)."""
    ts = f"try_cast({expr} as timestamptz)"
    return (
        f"case when regexp_matches({expr}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') and {ts} is not null "
        f"then case when microsecond({ts}) = 0 "
        f"then strftime({ts} at time zone 'UTC', '%Y-%m-%d %H:%M:%S') "
        f"else strftime({ts} at time zone 'UTC', '%Y-%m-%d %H:%M:%S.%f') end else {expr} end"
    )


def text(json_expr: str, path: str) -> str:
    """The value at `path` as text, null when absent or JSON null (never the text 'null')."""
    return f"nullif(json_extract_string({json_expr}, {ql(path)}), 'null')"


def array(json_expr: str, path: str) -> str:
    """The array at `path` as a list of JSON values (empty when absent or not an array)."""
    return (
        f"case when json_type({json_expr}, {ql(path)}) = 'ARRAY' "
        f"then cast(json_extract({json_expr}, {ql(path)}) as json[]) else [] end"
    )


# an amount exactly as a decimal(12,2) holds it: JSON numbers are read as doubles, which keep
# every decimal of up to 15 significant digits exactly, so a value that matches is exact
AMOUNT = "-?[0-9]{1,10}([.][0-9]{1,2})?"
CURRENCY = "[A-Z]{3}"


def amount_problem(value: str, currency: str, field: str, present: str) -> str:
    """Reasons for an amount object {value, currency} that does not fit exactly (or null)."""
    return (
        f"case when {present} and ({value} is null or not regexp_full_match({value}, "
        f"{ql(AMOUNT)})) then {ql(f'{field}.value is not an amount with at most 2 decimals: it is not loaded rounded; export the exact amount')} "
        f"when {present} and ({currency} is null or not regexp_full_match({currency}, "
        f"{ql(CURRENCY)})) then {ql(f'{field}.currency is not an ISO 4217 code (three capital letters)')} end"
    )


def accepted_currencies(profile: ShopProfile) -> tuple[str, ...] | None:
    """The order currencies whose rows load: the shop profile's closed value set `currency`
    (by default the reporting currency alone), None for an open set (any ISO 4217 code). dbt
    converts the amounts of another currency with the exchange_rates source."""
    value_set = profile.value_set("currency")
    return value_set.values if value_set.kind == "closed" else None


def currency_setting(profile: ShopProfile) -> str:
    """What an adapter's rows depend on besides their files: the reporting currency and the
    accepted currencies (a change of either re-reads the platform's files)."""
    accepted = accepted_currencies(profile)
    listed = ",".join(accepted) if accepted is not None else "open"
    return f"reporting_currency={profile.reporting_currency};currencies={listed}"


def currency_reason(expr: str, accepted: tuple[str, ...] | None, docs: str) -> str:
    """SQL: why a row of an order in currency `expr` is not loaded (null when it loads)."""
    why = (
        "the order''s currency is not listed in values.currency of the shop profile "
        "(returnlens.yml): add it there and deliver its daily rates in exchange_rates/ "
        "(docs/contracts/exchange_rates.md) so dbt converts its amounts into the reporting "
        f"currency, or set shop.reporting_currency if the shop reports in it ({docs})"
    )
    if accepted is None:
        return (
            f"case when not regexp_full_match({expr}, {ql(CURRENCY)}) then 'the order''s "
            "currency is not an ISO 4217 code (three capital letters)' end"
        )
    listed = ", ".join(ql(c) for c in accepted)
    return f"case when {expr} not in ({listed}) then '{why}' end"
