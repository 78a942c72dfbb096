"""Shopify as Fivetran, Airbyte or dlt land it (connector tables) onto `raw.orders`,
`raw.order_lines` and `raw.returns` (docs/sources/shopify.md).

The reference schema is Fivetran's Shopify connector (table and column names exactly as its
schema reference documents them; Airbyte's and dlt's names are mapped on the page). Each raw
table has one **driving** connector table whose files are the deliveries (one row per row of
the file, audited per file): `order` -> raw.orders, `order_line` -> raw.order_lines,
`return_line_item` -> raw.returns. The other tables a row needs (the order's currency, the
line's sku, the return, the refund lines with `restock_type`) are **joined from every file of
that table** in the folder, in the same DuckDB statement (`shopify_tables.py` reads each as text).

Mappings are seeds: `shopify_return_reasons` (the return reason enum -> reason_code),
`shopify_restock_types` (restock_type -> resolution, disposition, goods received) and
`shopify_source_names` (source_name -> channel; a source_name not there loads as it is and the
channel value set of the shop profile judges it).

**Currency**: Shopify's amounts (`total_price`, `price`, refund `subtotal`) are in the order's
`currency` (the shop currency; `presentment_currency` is what the customer saw). They load
unchanged with their currency when it is the reporting currency of the shop profile
(`shop.reporting_currency`); a row of an order in another currency is quarantined with a reason
naming that setting, never converted.

Quarantined besides the contract's checks: a row the connector marks deleted
(`_fivetran_deleted`), a test order, a currency other than the reporting currency, a return
reason or restock type not in its seed, a return line whose return, order line or order is not
delivered, a refund line amount that is not exact to the cent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from returnlens.adapters.common import ADAPTER_REASON, AMOUNT, register_seeds, utc_text
from returnlens.adapters.shopify_tables import (
    file_select,
    patterns,
    table_files,
    table_select,
)
from returnlens.ingest.contracts import Entity, FileSpec, entity
from returnlens.ingest.readers import ReadPaths
from returnlens.profile import load_profile
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

PLATFORM = "shopify"
DOCS = "docs/sources/shopify.md"
SEEDS = ("shopify_return_reasons", "shopify_restock_types", "shopify_source_names")
NO_REFUND = "(no refund)"  # seed row of a returned line without a refund line
UNREADABLE = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException)


def _deleted(alias: str = "d") -> str:
    return (
        f"case when lower({alias}._fivetran_deleted) = 'true' then 'deleted in Shopify "
        "(_fivetran_deleted is true): not a current row; deliver the table without it' end"
    )


def _currency(expr: str, reporting: str, table: str) -> str:
    return (
        f"case when {expr} is null then 'currency of the order missing: the order table gives "
        f"it; deliver the {table} with its currency' "
        f"when {expr} <> {ql(reporting)} then 'the order''s currency is not "
        "shop.reporting_currency of the shop profile (returnlens.yml): amounts are never "
        "converted silently and there are no exchange rates yet, so the row is not loaded; if "
        f"the shop reports in that currency, set shop.reporting_currency to it ({DOCS})' end"
    )


def _flatten_orders(driving: str, lookups: dict[str, str], name: str, order: int, cur: str) -> str:
    return f"""
    with d as ({driving})
    select
        d.id as order_id,
        d.customer_id,
        cast(null as varchar) as session_id,
        {utc_text("d.created_at")} as ordered_at,
        coalesce(s.channel, d.source_name) as channel,
        d.shipping_address_country_code as shipping_country,
        cast(null as varchar) as shipped_at,
        cast(null as varchar) as delivered_at,
        d.total_price as order_total_eur,
        d.currency,
        cast(json_object(
            'name', d.name, 'source_name', d.source_name,
            'presentment_currency', d.presentment_currency,
            'processed_at', d.processed_at, 'cancelled_at', d.cancelled_at
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        d._row_no as _file_row_number,
        concat_ws('; ',
            {_deleted()},
            case when lower(d.test) = 'true'
                then 'a test order (test is true): not a sale, not loaded' end,
            {_currency("d.currency", cur, "order table")}
        ) as {ADAPTER_REASON}
    from d
    left join _seed_shopify_source_names as s on d.source_name = s.source_name
    """


def _flatten_order_lines(
    driving: str, lookups: dict[str, str], name: str, order: int, cur: str
) -> str:
    return f"""
    with d as ({driving}),
    orders as ({lookups["order"]}),
    positions as (
        select id, row_number() over (
            partition by order_id order by try_cast(id as hugeint), id
        ) as line_number
        from ({lookups["order_line"]})
    )
    select
        d.id as order_line_id,
        d.order_id,
        cast(p.line_number as varchar) as line_number,
        d.sku,
        d.quantity,
        d.price as unit_price_eur,
        d.total_discount as discount_eur,
        cast(null as varchar) as batch_id,
        cast(json_object(
            'index', d.index, 'product_id', d.product_id, 'variant_id', d.variant_id,
            'currency', o.currency
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        d._row_no as _file_row_number,
        concat_ws('; ',
            {_deleted()},
            case when o.id is null then 'order_id has no row in the order table: its '
                || 'currency is unknown; deliver the order table with the order_line table' end,
            case when lower(o.test) = 'true' then 'belongs to a test order (test is true in '
                || 'the order table): not a sale, not loaded' end,
            case when o.id is not null then {_currency("o.currency", cur, "order table")} end
        ) as {ADAPTER_REASON}
    from d
    left join orders as o on d.order_id = o.id
    left join positions as p on d.id = p.id
    """


def _flatten_returns(driving: str, lookups: dict[str, str], name: str, order: int, cur: str) -> str:
    return f"""
    with d as ({driving}),
    rets as ({lookups["return"]}),
    lines as ({lookups["order_line"]}),
    orders as ({lookups["order"]}),
    refund_lines as (
        select
            olr.order_line_id,
            count(*) filter (where rt.restock_type is null) as unknown_restock,
            count(*) filter (
                where olr.subtotal is null or not regexp_full_match(olr.subtotal, {ql(AMOUNT)})
            ) as bad_amounts,
            sum(try_cast(olr.subtotal as decimal(18, 2))) as subtotal,
            max(coalesce(rf.processed_at, rf.created_at)) as refunded_at,
            arg_max(olr.restock_type, coalesce(rf.processed_at, rf.created_at, '')) as restock_type,
            string_agg(olr.refund_id, ',' order by olr.refund_id) as refund_ids
        from ({lookups["order_line_refund"]}) as olr
        left join ({lookups["refund"]}) as rf on olr.refund_id = rf.id
        left join _seed_shopify_restock_types as rt on olr.restock_type = rt.restock_type
        group by olr.order_line_id
    ),
    joined as (
        select
            d.*,
            r.id as r_id, r.order_id as r_order_id, r.name as r_name, r.status as r_status,
            r.created_at as r_created_at, r.decline_reason, r.decline_note,
            l.id as l_id, l.order_id as l_order_id, l.sku, o.id as o_id, o.currency,
            o.test as o_test,
            rl.order_line_id as rl_line, rl.unknown_restock, rl.bad_amounts, rl.subtotal,
            rl.refunded_at, rl.restock_type, rl.refund_ids,
            rt.resolution, rt.disposition, rt.is_goods_received,
            rr.return_reason as known_reason, rr.reason_code
        from d
        left join rets as r on d.return_id = r.id
        left join lines as l on d.order_line_id = l.id
        left join orders as o on coalesce(r.order_id, l.order_id) = o.id
        left join refund_lines as rl on d.order_line_id = rl.order_line_id
        left join _seed_shopify_restock_types as rt
            on coalesce(rl.restock_type, {ql(NO_REFUND)}) = rt.restock_type
        left join _seed_shopify_return_reasons as rr on d.return_reason = rr.return_reason
    )
    select
        return_id as rma_id,
        coalesce(r_order_id, l_order_id) as order_id,
        order_line_id,
        sku,
        quantity,
        reason_code,
        nullif(concat_ws('. ', return_reason_note, customer_note), '') as reason_text,
        {utc_text("r_created_at")} as requested_at,
        case when is_goods_received = 'true' then {utc_text("refunded_at")} end as received_at,
        cast(null as varchar) as inspected_at,
        {utc_text("refunded_at")} as refunded_at,
        cast(null as varchar) as condition_grade,
        disposition,
        resolution,
        cast(subtotal as varchar) as refund_amount_eur,
        r_status as status,
        cast(json_object(
            'return_line_item_id', id, 'return_name', r_name, 'return_reason', return_reason,
            'restock_type', restock_type, 'refund_ids', refund_ids, 'currency', currency,
            'decline_reason', decline_reason
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        _row_no as _file_row_number,
        concat_ws('; ',
            {_deleted("j")},
            case when return_id is null
                then 'missing return_id (every return_line_item has one): export the table again'
                when r_id is null then 'return_id has no row in the return table: deliver '
                    || 'the return table with the return_line_item table' end,
            case when l_id is null then 'order_line_id has no row in the order_line table (the '
                || 'sku is unknown): deliver the order_line table with it' end,
            case when o_id is null and (r_id is not null or l_id is not null)
                then 'the order has no row in the order table (its currency is unknown): '
                    || 'deliver the order table with it'
                when o_id is not null then {_currency("currency", cur, "order table")} end,
            case when lower(o_test) = 'true' then 'belongs to a test order (test is true in '
                || 'the order table): not a sale, not loaded' end,
            case when return_reason is not null and known_reason is null
                then 'a return_reason Shopify does not document (not in '
                    || 'seeds/shopify_return_reasons.csv): add it there with its reason_code' end,
            case when unknown_restock > 0
                then 'a restock_type Shopify does not document (not in '
                    || 'seeds/shopify_restock_types.csv): add it there with its resolution' end,
            case when bad_amounts > 0
                then 'order_line_refund subtotal is not an amount with at most 2 decimals: it '
                    || 'is not loaded rounded; export the exact amount' end
        ) as {ADAPTER_REASON}
    from joined as j
    """


@dataclass(frozen=True)
class TableAdapter:
    """One raw table fed by Shopify connector tables: its entity, driving table and joins."""

    name: str  # the platform (its landing folder and docs page)
    label: str
    entity: Entity
    table: str  # the driving connector table (its files are the deliveries)
    lookups: tuple[str, ...]  # connector tables joined from every file in the folder
    flatten: Callable[[str, dict[str, str], str, int, str], str]
    seeds: tuple[str, ...] = SEEDS


def _entity(name: str, table: str, reads: tuple[str, ...], description: str) -> Entity:
    (main, main_fmt), *others = patterns(table)
    return Entity(
        source=PLATFORM,
        name=name,
        pattern=main,
        format=main_fmt,
        also=tuple(FileSpec(p, f) for p, f in others),
        key=entity(name).key,
        columns=entity(name).columns,
        optional=True,
        adapter=PLATFORM,
        reads=tuple(p for t in reads for p, _ in patterns(t)),
        description=description,
    )


_RETURN_LOOKUPS = ("return", "order_line", "order", "order_line_refund", "refund")
TABLE_ADAPTERS: dict[str, TableAdapter] = {
    a.entity.name: a
    for a in (
        TableAdapter(
            PLATFORM,
            "Shopify order table",
            _entity(
                "orders",
                "order",
                (),
                "Shopify orders (connector table `order`), one row "
                "per order, loaded into raw.orders (docs/sources/shopify.md).",
            ),
            "order",
            (),
            _flatten_orders,
        ),
        TableAdapter(
            PLATFORM,
            "Shopify order_line table",
            _entity(
                "order_lines",
                "order_line",
                (),
                "Shopify order lines (connector table "
                "`order_line`), loaded into raw.order_lines (docs/sources/shopify.md).",
            ),
            "order_line",
            ("order", "order_line"),
            _flatten_order_lines,
        ),
        TableAdapter(
            PLATFORM,
            "Shopify return_line_item table",
            _entity(
                "returns",
                "return_line_item",
                ("return", "refund", "order_line_refund"),
                "Shopify return line items (connector table `return_line_item`, joined "
                "with return, order_line, order_line_refund and refund), loaded into "
                "raw.returns (docs/sources/shopify.md).",
            ),
            "return_line_item",
            _RETURN_LOOKUPS,
            _flatten_returns,
        ),
    )
}


def joined_fingerprint(ent: Entity, landing_dir: Path) -> str:
    """The names and content of the files of the tables joined into an entity's rows: when one
    changes (a refund delivered after its return), the driving files are read again."""
    digest = hashlib.sha256()
    for t in TABLE_ADAPTERS[ent.name].lookups:
        for f in table_files(landing_dir / PLATFORM, t):
            digest.update(f.name.encode())
            with f.open("rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _why(exc: BaseException) -> str:
    if isinstance(exc, duckdb.IOException):
        return "the file cannot be opened"
    return "it is not a readable Parquet, CSV (UTF-8, with a header) or JSON lines file"


def _fail(p, text: str, rows_in: int | None = None) -> None:
    p.rows_in = rows_in
    p.error = text


def stage(con: duckdb.DuckDBPyConnection, ent: Entity, batch: list, paths: ReadPaths) -> None:
    """Flatten each driving file of the batch (joined with the other tables) into `_stage`."""
    adapter = TABLE_ADAPTERS[ent.name]
    cols = ", ".join(f"{qi(c.name)} varchar" for c in ent.columns)
    con.execute(
        f"create or replace temp table _stage ({cols}, _extra varchar, _source_file varchar, "
        f"_file_order bigint, _file_row_number bigint, {ADAPTER_REASON} varchar)"
    )
    register_seeds(con, adapter.seeds)
    names = ", ".join(qi(c.name) for c in ent.columns)
    for p in batch:
        if p.size == 0:
            _fail(
                p,
                f"{p.name}: the file is empty (0 bytes). Export the {adapter.table} table "
                f"again and deliver it ({DOCS}).",
                0,
            )
            continue
        folder = p.path.parent
        reporting = load_profile(folder.parent).reporting_currency
        try:
            driving = file_select(con, adapter.table, p.path)
            con.execute(f"select count(*) from ({driving})").fetchall()
        except UNREADABLE as exc:
            _fail(
                p,
                f"{p.name}: cannot be read as the {adapter.label}: {_why(exc)}. Export the "
                f"table again as described in {DOCS} and deliver it under the same name (it "
                "replaces the failed delivery). Rows in the file: unknown (row count unknown).",
            )
            continue
        lookups = {}
        for t in adapter.lookups:
            for f in table_files(folder, t):
                try:
                    con.execute(f"select count(*) from ({file_select(con, t, f)})").fetchall()
                except UNREADABLE as exc:
                    _fail(
                        p,
                        f"{p.name}: not loaded: the {t} table it is joined with cannot be "
                        f"read ({PLATFORM}/{f.name}: {_why(exc)}). Export that table again "
                        f"({DOCS}); this file loads on the next run.",
                    )
                    break
            if p.error:
                break
            lookups[t] = table_select(con, t, table_files(folder, t))
        if p.error:
            continue
        select = adapter.flatten(driving, lookups, p.name, p.order, reporting)
        con.execute(
            f"insert into _stage ({names}, _extra, _source_file, _file_order, "
            f"_file_row_number, {ADAPTER_REASON}) {select}"
        )
        (n,) = con.execute(
            "select count(*) from _stage where _file_order = ?", [p.order]
        ).fetchall()[0]
        if n == 0:
            _fail(
                p,
                f"{p.name}: holds no row (a header only). An empty export is not "
                f"loaded: remove it, or deliver the table with its rows ({DOCS}).",
                0,
            )
