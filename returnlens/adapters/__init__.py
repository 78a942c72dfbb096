"""Platform adapters: a platform's own export read as it is, onto the native raw tables.

A shop whose returns come from bol.com or Sendcloud delivers the platforms' API responses as
they are, in a landing folder of their own (`landing/bol/returns_*.json`,
`landing/sendcloud/returns_*.json`; docs/sources/). An adapter is a **landing entity** like the
native ones (`returnlens/ingest/contracts.py`): same raw table (`raw.returns`), same columns,
same key, same check and quarantine path, same audit, but its files are JSON of the platform's
shape, so instead of reading them as text rows the loader asks the adapter to flatten each file
into `_stage` (`stage_platform_files`): one row per returned item, every contract column as
text, in one DuckDB statement per file (`read_text` + the JSON functions + `unnest`, no Python
row loop). From there on nothing differs from a native delivery: `checked_select` judges the
rows (exact types, allowed values, duplicate keys, also against the native files' rows), failing
rows go to `raw.quarantine_rows` with the reason and the flattened record, and `raw.load_audit`
records rows in (items in the file) = rows loaded + rows quarantined. Staging, marts and gates
see `raw.returns` and work unchanged.

**What only the platform knows** is checked by the adapter and handed to the same check as
`_adapter_reason` (e.g. a `handlingResult` bol.com does not document, a Sendcloud amount that
does not fit a decimal with two places): the row is quarantined with that reason first.
Reasons name the platform's field, the problem and what to do, never a value.

**One folder, several raw tables**: a platform whose files feed more than one raw table
(WooCommerce: orders, order lines and refunds; Shopify: orders, order lines, products,
returns and customers) has one adapter per raw table in `PLATFORM_TABLES` (platform -> raw
table -> adapter), each an entity of its own. Shopify's are `shopify.TableAdapter`s: each joins the
other connector tables of the folder into the rows of its driving table (`shopify.stage`)
instead of flattening one file at a time; an `Adapter`'s `prepare` stages once per batch what
its files join from other files (WooCommerce refunds: the orders files, read once, not once per
refunds file). Every adapter's `fingerprint` names what else of the landing folder its rows
depend on (the reporting currency, the files it joins), part of the contract hash, so its
files are read again when that changes.

**Mappings are seeds** (`seeds/bol_*.csv`, `seeds/sendcloud_*.csv`, documented in
`seeds/_seeds__models.yml`): the adapter reads them as text when it flattens a file, so a
value is mapped by editing a seed, not code; the same files are dbt seeds in the warehouse.
Platform fields without a native column (EAN, carrier, label cost and return fee with their
currency, ...) are kept as JSON in the row's `_extra`; personal data the platform sends
(bol.com `customerDetails`, Sendcloud addresses) is not loaded at all, except Shopify's
`customer` table, which loads into raw.customers' PII columns as a native customer does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from returnlens.adapters import bol, common, sendcloud, shopify, shopify_export, woocommerce
from returnlens.adapters.common import (
    ADAPTER_REASON,
    Adapter,
    reading,
    register_seeds,
    stage_rows,
)
from returnlens.ingest.contracts import Entity
from returnlens.ingest.readers import ReadPaths
from returnlens.warehouse import quote_ident as qi

__all__ = [
    "ADAPTERS",
    "ADAPTER_REASON",
    "PLATFORM_TABLES",
    "PlatformAdapter",
    "adapter_entities",
    "adapter_fingerprint",
    "stage_platform_files",
]

# what DuckDB raises for a file that is not (UTF-8) JSON; other errors are ours and raise
UNREADABLE = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException)

ADAPTERS: dict[str, Adapter] = {a.name: a for a in (bol.ADAPTER, sendcloud.ADAPTER)}
# a platform adapter: one file flattened at a time (bol.com, Sendcloud, WooCommerce), connector
# tables joined into the rows of a driving table (Shopify), or Shopify's orders export CSV
PlatformAdapter = Adapter | shopify.TableAdapter | shopify_export.ExportAdapter
# platforms whose files feed several raw tables: platform -> raw table -> adapter
PLATFORM_TABLES: dict[str, dict[str, PlatformAdapter]] = {
    woocommerce.PLATFORM: dict(woocommerce.ADAPTERS),
    shopify.PLATFORM: dict(shopify.ADAPTERS),
    shopify_export.PLATFORM: dict(shopify_export.ADAPTERS),
}


def _adapter(entity: Entity) -> PlatformAdapter:
    """The adapter that loads the files of a platform entity."""
    if entity.adapter in PLATFORM_TABLES:
        return PLATFORM_TABLES[entity.adapter][entity.name]
    return ADAPTERS[entity.adapter or ""]


def adapter_fingerprint(
    name: str, landing_dir: Path | None = None, table: str | None = None
) -> str:
    """The content of an adapter's mapping seeds and, given the landing folder, what else of
    it the rows of `table` depend on (`fingerprint`: a setting, the files it joins; part of
    its contract hash)."""
    digest = hashlib.sha256()
    tables = PLATFORM_TABLES.get(name, {})
    seeds = (
        ADAPTERS[name].seeds
        if name in ADAPTERS
        else sorted({s for a in tables.values() for s in a.seeds})
    )
    for seed in seeds:
        digest.update((common.SEEDS_DIR / f"{seed}.csv").read_bytes())
    adapter = tables.get(table or "") if tables else ADAPTERS.get(name)
    if landing_dir is not None and adapter is not None and adapter.fingerprint is not None:
        digest.update(adapter.fingerprint(Path(landing_dir)).encode())
    return digest.hexdigest()


def _why(exc: BaseException) -> str:
    """The cause of an unreadable file in words; DuckDB's own text quotes the file's content."""
    if isinstance(exc, duckdb.IOException):
        return "the file cannot be opened"
    return "it is not valid JSON (cut off, not UTF-8, or not JSON at all)"


def adapter_entities() -> tuple[Entity, ...]:
    """The landing entities of every platform adapter (loaded beside the native ones)."""
    tables = (a.entity for t in PLATFORM_TABLES.values() for a in t.values())
    return (*(a.entity for a in ADAPTERS.values()), *tables)


def stage_platform_files(
    con: duckdb.DuckDBPyConnection, entity: Entity, batch: list, paths: ReadPaths | None = None
) -> None:
    """Flatten each file of the batch into temp table `_stage`, one file at a time.

    A file that is not JSON of the platform's shape, or holds no returned item, fails whole
    with the cause and what to do (its `error` is set; nothing of it is staged). Running out of
    DuckDB's memory is not the file's fault: the load fails naming the file and the setting.
    """
    paths = paths or ReadPaths()
    adapter = _adapter(entity)
    if isinstance(adapter, shopify.TableAdapter):  # connector tables: joined, not per file
        shopify.stage(con, entity, batch, paths)
        return
    if isinstance(adapter, shopify_export.ExportAdapter):  # a CSV export, not JSON
        shopify_export.stage(con, entity, batch, paths)
        return
    cols = ", ".join(f"{qi(c.name)} varchar" for c in entity.columns)
    con.execute(
        f"create or replace temp table _stage ({cols}, _extra varchar, _source_file varchar, "
        f"_file_order bigint, _file_row_number bigint, {ADAPTER_REASON} varchar)"
    )
    register_seeds(con, adapter.seeds)
    # what the files join from other files (WooCommerce refunds: the orders files) is read
    # once for the batch; if that read fails, each file fails as its own read would have
    joined: BaseException | None = None
    if adapter.prepare is not None and any(p.size for p in batch):
        try:
            with reading(f"the files joined with {', '.join(p.name for p in batch)}"):
                adapter.prepare(con, [p.path for p in batch])
        except UNREADABLE as exc:
            joined = exc
    for p in batch:
        if p.size == 0:
            p.rows_in = 0
            p.error = (
                f"{p.name}: the file is empty (0 bytes). Save the API's response body as it is "
                f"and deliver it again (docs/sources/{adapter.name}.md)."
            )
            continue
        path = paths.path_for(p.path, p.spec, p.order)
        select = adapter.flatten(str(path), p.name, p.order)
        try:
            if joined is not None:
                raise joined
            with reading(p.name):
                n = stage_rows(con, entity, select, p.order)
        except UNREADABLE as exc:  # not JSON, not UTF-8, not there: the file's fault
            p.rows_in = None
            p.error = (
                f"{p.name}: cannot be read as {adapter.label} JSON: {_why(exc)}. Save "
                f"the API's response body as it is (UTF-8 JSON, {adapter.shape}) as described in "
                f"docs/sources/{adapter.name}.md and deliver it again (under the same name: it "
                "replaces the failed delivery). Rows in the file: unknown (row count unknown)."
            )
            continue
        if n == 0:
            p.rows_in = 0
            p.error = (
                f"{p.name}: holds no {adapter.item} ({adapter.shape}, none found). An empty page "
                "is not loaded: remove it, or deliver the page with its returns "
                f"(docs/sources/{adapter.name}.md)."
            )
