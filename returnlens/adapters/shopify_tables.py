"""Reading Shopify connector tables (Fivetran's names) from Parquet, CSV or JSON lines as text.

A connector table arrives as one or more files directly in `landing/shopify/`, named
`<table>.<ext>` or `<table>-<part>.<ext>` (`order_line.parquet`, `refund-2024-02.csv`,
`return_line_item.jsonl`): the table name as Fivetran writes it, then a part after a dash (the
connectors' table names have no dash, so `order-*` never matches `order_line`). Every column
the adapter uses is read as text, exactly as written: CSV with `all_varchar`, JSON lines with
`json_extract_string`, Parquet cast to text, a Parquet timestamp with time zone (Fivetran's
`Instant`) written as its UTC time. A column a file does not have reads as null (a connector
that does not sync it); the contract check or the adapter then judges the row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

FORMATS = ("parquet", "csv", "jsonl")

# the columns of each connector table the adapter reads (Fivetran's Shopify schema)
COLUMNS: dict[str, tuple[str, ...]] = {
    "order": (
        "id",
        "name",
        "customer_id",
        "created_at",
        "processed_at",
        "cancelled_at",
        "currency",
        "presentment_currency",
        "total_price",
        "source_name",
        "shipping_address_country_code",
        "test",
        "_fivetran_deleted",
    ),
    "order_line": (
        "id",
        "order_id",
        "index",
        "sku",
        "quantity",
        "price",
        "total_discount",
        "product_id",
        "variant_id",
        "_fivetran_deleted",
    ),
    "refund": ("id", "order_id", "created_at", "processed_at", "_fivetran_deleted"),
    "order_line_refund": (
        "id",
        "refund_id",
        "order_line_id",
        "quantity",
        "restock_type",
        "subtotal",
        "total_tax",
        "location_id",
        "_fivetran_deleted",
    ),
    "return": (
        "id",
        "order_id",
        "name",
        "status",
        "created_at",
        "closed_at",
        "decline_reason",
        "decline_note",
        "_fivetran_deleted",
    ),
    "product_variant": (
        "id",
        "product_id",
        "inventory_item_id",
        "sku",
        "title",
        "price",
        "grams",
        "option_1",
        "option_2",
        "option_3",
        "_fivetran_deleted",
    ),
    "product": ("id", "title", "product_type", "vendor", "status", "_fivetran_deleted"),
    "product_option": ("id", "product_id", "name", "position", "_fivetran_deleted"),
    "inventory_item": (
        "id",
        "unit_cost_amount",
        "unit_cost_currency_code",
        "cost",
        "_fivetran_deleted",
    ),
    "shop": ("id", "currency", "_fivetran_deleted"),
    "customer": (
        "id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "state",
        "verified_email",
        "currency",
        "created_at",
        "updated_at",
        "default_address_id",
        "_fivetran_deleted",
    ),
    # hard deletes at Fivetran (no _fivetran_deleted): read as null when absent
    "customer_address": (
        "id",
        "customer_id",
        "address_1",
        "address_2",
        "city",
        "zip",
        "country_code",
        "is_default",
        "_fivetran_deleted",
    ),
    "return_line_item": (
        "id",
        "return_id",
        "order_line_id",
        "quantity",
        "return_reason",
        "return_reason_note",
        "customer_note",
        "_fivetran_deleted",
    ),
}


def patterns(table: str) -> tuple[tuple[str, str], ...]:
    """(glob, format) of every file name a table may arrive under."""
    return tuple(
        (pattern, fmt) for fmt in FORMATS for pattern in (f"{table}.{fmt}", f"{table}-*.{fmt}")
    )


def table_files(folder: Path, table: str) -> list[Path]:
    """The files of a connector table in the platform folder, in name order."""
    found: set[Path] = set()
    for pattern, _ in patterns(table):
        found.update(
            p
            for p in folder.glob(pattern)
            if p.is_file() and not p.is_symlink() and p.stat().st_size
        )
    return sorted(found)


def file_select(con: duckdb.DuckDBPyConnection, table: str, path: Path, file_no: int = 0) -> str:
    """One file of a connector table as text columns (COLUMNS[table]) plus `_file_no` and
    `_row_no` (its position in the file, from 1). Raises DuckDB's error for an unreadable file."""
    cols = COLUMNS[table]
    p = ql(str(path))
    fmt = path.suffix.lstrip(".")
    if fmt == "jsonl":
        exprs = [
            f"nullif(json_extract_string(json, {ql('$.' + c)}), 'null') as {qi(c)}" for c in cols
        ]
        source = f"read_ndjson_objects({p})"
    else:
        source = (
            f"read_parquet({p})"
            if fmt == "parquet"
            else f"read_csv({p}, header = true, all_varchar = true, auto_detect = true)"
        )
        types = {r[0]: r[1] for r in con.execute(f"describe select * from {source}").fetchall()}
        exprs = []
        for c in cols:
            if c not in types:
                exprs.append(f"cast(null as varchar) as {qi(c)}")
            elif types[c] == "TIMESTAMP WITH TIME ZONE":
                ts = f"timezone('UTC', {qi(c)})"
                exprs.append(
                    f"case when microsecond({ts}) = 0 then strftime({ts}, '%Y-%m-%d %H:%M:%S') "
                    f"else strftime({ts}, '%Y-%m-%d %H:%M:%S.%f') end as {qi(c)}"
                )
            elif types[c].startswith("DECIMAL"):  # exact: trailing zeros of the scale dropped
                exprs.append(
                    "regexp_replace(regexp_replace(cast("
                    f"{qi(c)} as varchar), '([.][0-9]*?)0+$', '\\1'), '[.]$', '') as {qi(c)}"
                )
            else:
                exprs.append(f"nullif(cast({qi(c)} as varchar), '') as {qi(c)}")
    return (
        f"select {', '.join(exprs)}, {file_no} as _file_no, "
        f"row_number() over () as _row_no from {source}"
    )


def table_select(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> str:
    """Every file of a connector table as one relation of text columns, the latest row per
    `id` (later files win) and rows the connector marks deleted left out; empty when the table
    was not delivered."""
    if not files:
        cols = ", ".join(f"cast(null as varchar) as {qi(c)}" for c in COLUMNS[table])
        return f"select {cols} where false"
    union = " union all ".join(file_select(con, table, f, n) for n, f in enumerate(files))
    return (
        f"select * exclude (_file_no, _row_no) from ({union}) "
        "where coalesce(lower(_fivetran_deleted), 'false') <> 'true' "
        "qualify row_number() over (partition by id order by _file_no desc, _row_no desc) = 1"
    )
