"""WooCommerce REST API v3 orders and refunds, as JSON, onto `raw.orders`, `raw.order_lines`
and `raw.returns` (docs/sources/woocommerce.md).

Files, in `landing/woocommerce/`:

- `orders_*.json`: response bodies of `GET /wp-json/wc/v3/orders` (a JSON array of orders; the
  pages may be concatenated into one array) or of `GET /orders/<id>` (one order). Each file
  feeds two entities: **orders** (one row per order) and **order lines** (one row per
  `line_items` entry).
- `refunds_*.json`: response bodies of `GET /orders/<id>/refunds` (an array of refunds) or of
  `GET /orders/<id>/refunds/<refund_id>` (one refund), also refunds landed as orders of type
  `shop_order_refund` with their `parent_id`. One **return** row per refunded line item
  (`line_items` with negative `quantity` and `total`); a refund without line items (a refund
  by amount) gives one row, quarantined, so it is counted and visible.

Mapping (amounts are the order's `currency`; the contracts' amounts are incl. VAT):

- orders: `order_id` = `id`, `customer_id` = `customer_id` (`guest-<id>` for a guest order,
  `customer_id` 0), `ordered_at` = `date_created_gmt`, `channel` = web, `shipping_country` =
  `shipping.country` (else `billing.country`), `order_total_eur` = `total`, `currency`;
- order lines: `order_line_id` = the line item's `id`, `line_number` = its position in
  `line_items`, `sku`, `quantity`, `unit_price_eur` = (`subtotal` + `subtotal_tax`) /
  `quantity`, `discount_eur` = (`subtotal` + `subtotal_tax`) - (`total` + `total_tax`);
- returns: `rma_id` = the refund's `id`, `order_id` = its parent order (`parent_id`, else the
  order of `_links.up`), `order_line_id` = the line item's `_refunded_item_id` meta (else the
  parent order's only line with the same `product_id` and `variation_id`), `quantity` =
  -`quantity`, `refund_amount_eur` = -(`total` + `total_tax`), `resolution` refund,
  `requested_at` = `date_created_gmt` (a refund is WooCommerce's only return event; it stands
  in as the request, and `refunded_at` stays empty so no lead time of 0 is reported), `status`
  refunded, `reason_text` = `reason` (free text: the text rules map it).

Quarantined besides the contract's checks: a missing or non-integer `id`; an order status that
is not a sale or not in seed `woocommerce_order_statuses`; an order (and its lines and refunds)
in a currency the shop profile does not list (values.currency: by default the reporting
currency alone; a listed currency loads as delivered and dbt converts it with exchange_rates); an amount that is not exact to the cent
(never rounded, also a unit price the quantity does not divide into whole cents); a line
without `sku`; a refund whose parent order is not in the folder's `orders_*.json` (its
currency and order line are unknown) or is not loaded, whose order line cannot be found, whose quantity is not
negative, or that refunds an amount without line items. Personal data (`billing`, `shipping`
addresses, `customer_note`, IP address, user agent) is not loaded.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.adapters.common import (
    ADAPTER_REASON,
    Adapter,
    accepted_currencies,
    array,
    currency_reason,
    currency_setting,
    text,
)
from returnlens.adapters.woocommerce_refunds import (
    DOCS,
    EXACT,
    cents,
    gmt,
    inexact,
    money,
    parents_statements,
    returns_select,
)
from returnlens.ingest.contracts import Entity, entity
from returnlens.ingest.landing import entity_files
from returnlens.profile import load_profile
from returnlens.warehouse import quote_literal as ql

PLATFORM = "woocommerce"
SEEDS = ("woocommerce_order_statuses",)
GUEST = "guest-"  # customer_id of a guest order: guest-<order id> (WooCommerce writes 0)


def _currency(expr: str, accepted: tuple[str, ...] | None) -> str:
    return (
        f"case when {expr} is null then 'currency of the order missing (every WooCommerce "
        "order has one): export the order again' "
        f"else {currency_reason(expr, accepted, DOCS)} end"
    )


def _orders_sql(source: str) -> str:
    """Every order object of `source` (a select of JSON documents `j` with `file_no`)."""
    return f"""
    orders_list as (
        select file_no, case
            when json_type(j) = 'ARRAY' then cast(j as json[])
            when json_type(j) = 'OBJECT' and json_exists(j, '$.id') then [j]
            else []
        end as os
        from {source}
    ),
    orders as (
        select file_no, unnest(os) as o, unnest(generate_series(1, len(os))) as order_no
        from orders_list
    ),
    orders_flat as (
        select
            file_no, order_no, o,
            {text("o", "$.id")} as id,
            {text("o", "$.number")} as number,
            {text("o", "$.type")} as type,
            {text("o", "$.status")} as status,
            {text("o", "$.currency")} as currency,
            {text("o", "$.total")} as total,
            s.status is null as is_unknown_status,
            coalesce(s.is_sale, '') = 'true' as is_sale
        from orders
        left join _seed_woocommerce_order_statuses as s on {text("o", "$.status")} = s.status
    )"""


def _order_reason(accepted: tuple[str, ...] | None) -> str:
    """Why an order (and so each of its lines) is not loaded ('' or null when it is)."""
    return f"""concat_ws('; ',
            case when id is null
                then 'missing id (every WooCommerce order has one): export the order again'
                when not regexp_full_match(id, '[0-9]+')
                then 'id is not a whole number as the REST API writes it' end,
            case when type = 'shop_order_refund'
                then 'a refund (type shop_order_refund) delivered as an order: deliver '
                    || 'refunds in refunds_*.json ({DOCS})'
                when is_unknown_status
                then 'status not in seeds/woocommerce_order_statuses.csv: add it there '
                    || 'with is_sale true or false'
                when not is_sale
                then 'status is not a sale (pending payment, failed, cancelled, draft or '
                    || 'trash: seeds/woocommerce_order_statuses.csv): not loaded' end,
            {_currency("currency", accepted)},
            case when total is not null and not regexp_full_match(total, {ql(EXACT)})
                then {ql(inexact("total"))} end
        )"""


def _landing_of(path: str) -> Path:
    """The landing root of a file DuckDB reads (a link in a temp folder resolves to it)."""
    return Path(path).resolve().parent.parent


def flatten_orders(path: str, name: str, order: int) -> str:
    """One row per order of an orders file, as the orders contract's text columns."""
    accepted = accepted_currencies(load_profile(_landing_of(path)))
    return f"""
    with doc as (
        select 1 as file_no, cast(content as json) as j from read_text({ql(path)})
    ),
    {_orders_sql("doc")},
    flat as (
        select
            orders_flat.*,
            {text("o", "$.customer_id")} as customer,
            {text("o", "$.date_created_gmt")} as created_gmt,
            coalesce(nullif({text("o", "$.shipping.country")}, ''),
                nullif({text("o", "$.billing.country")}, '')) as country,
            {cents("total")} as total_cents,
            {text("o", "$.created_via")} as created_via,
            {text("o", "$.date_paid_gmt")} as date_paid_gmt,
            {text("o", "$.date_completed_gmt")} as date_completed_gmt,
            {text("o", "$.prices_include_tax")} as prices_include_tax,
            {text("o", "$.shipping_total")} as shipping_total,
            {text("o", "$.discount_total")} as discount_total,
            {text("o", "$.total_tax")} as total_tax,
            len({array("o", "$.line_items")}) as n_lines,
            len({array("o", "$.refunds")}) as n_refunds
        from orders_flat
    )
    select
        id as order_id,
        case when customer = '0' then {ql(GUEST)} || id else customer end as customer_id,
        cast(null as varchar) as session_id,
        {gmt("created_gmt")} as ordered_at,
        'web' as channel,
        country as shipping_country,
        cast(null as varchar) as shipped_at,
        cast(null as varchar) as delivered_at,
        coalesce({money("total_cents")}, total) as order_total_eur,
        currency,
        cast(json_object(
            'number', number, 'status', status, 'created_via', created_via,
            'prices_include_tax', prices_include_tax, 'date_paid_gmt', date_paid_gmt,
            'date_completed_gmt', date_completed_gmt, 'shipping_total', shipping_total,
            'discount_total', discount_total, 'total_tax', total_tax,
            'line_items', n_lines, 'refunds', n_refunds
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        order_no as _file_row_number,
        {_order_reason(accepted)} as {ADAPTER_REASON}
    from flat
    """


def flatten_order_lines(path: str, name: str, order: int) -> str:
    """One row per line item of an orders file, as the order lines contract's text columns."""
    accepted = accepted_currencies(load_profile(_landing_of(path)))
    amounts = ("subtotal", "subtotal_tax", "total", "total_tax")
    in_cents = ",\n            ".join(
        f"{cents(text('li', '$.' + a))} as {a}_cents" for a in amounts
    )
    given = ",\n            ".join(f"{text('li', '$.' + a)} as {a}" for a in amounts)
    inexact_reasons = ",\n            ".join(
        f"case when {a} is not null and {a}_cents is null then {ql(inexact('line_items ' + a))} end"
        for a in amounts
    )
    return f"""
    with doc as (
        select 1 as file_no, cast(content as json) as j from read_text({ql(path)})
    ),
    {_orders_sql("doc")},
    lines as (
        select
            orders_flat.*, {_order_reason(accepted)} as order_reason,
            unnest({array("o", "$.line_items")}) as li,
            unnest(generate_series(1, len({array("o", "$.line_items")}))) as line_no
        from orders_flat
    ),
    flat as (
        select
            order_no, line_no, id as order_id, order_reason, currency, number,
            {text("li", "$.id")} as line_id,
            nullif({text("li", "$.sku")}, '') as sku,
            {text("li", "$.quantity")} as quantity,
            {text("li", "$.product_id")} as product_id,
            {text("li", "$.variation_id")} as variation_id,
            {text("li", "$.name")} as product_name,
            {text("li", "$.price")} as price,
            {given},
            {in_cents}
        from lines
    ),
    priced as (
        select
            *,
            subtotal_cents + coalesce(subtotal_tax_cents, 0) as gross_cents,
            total_cents + coalesce(total_tax_cents, 0) as net_cents,
            case when regexp_full_match(quantity, '[0-9]+') and quantity <> '0'
                then cast(quantity as hugeint) end as qty
        from flat
    )
    select
        line_id as order_line_id,
        order_id,
        cast(line_no as varchar) as line_number,
        sku,
        quantity,
        case when gross_cents % qty = 0 then {money("gross_cents // qty")} end
            as unit_price_eur,
        {money("gross_cents - net_cents")} as discount_eur,
        cast(null as varchar) as batch_id,
        cast(json_object(
            'order_number', number, 'product_id', product_id, 'variation_id', variation_id,
            'name', product_name, 'price', price, 'subtotal', subtotal,
            'subtotal_tax', subtotal_tax, 'total', total, 'total_tax', total_tax,
            'currency', currency
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        row_number() over (order by order_no, line_no) as _file_row_number,
        concat_ws('; ',
            case when order_reason <> '' then 'the order is not loaded: ' || order_reason end,
            case when line_id is null
                then 'line_items entry without id (every line item has one): export the '
                    || 'order again' end,
            case when sku is null
                then 'sku is empty: the product has no SKU in WooCommerce, and the marts join '
                    || 'order lines to products by sku; give the product (or variation) a SKU '
                    || 'and export the order again' end,
            {inexact_reasons},
            case when qty is not null and gross_cents % qty <> 0
                then '(subtotal + subtotal_tax) / quantity is not a whole number of cents: the '
                    || 'unit price is not loaded rounded ({DOCS}: unit prices)' end
        ) as {ADAPTER_REASON}
    from priced
    """


ORDERS = Entity(
    source=PLATFORM,
    name="orders",
    pattern="orders_*.json",
    format="json",
    key=entity("orders").key,
    affects=entity("orders").affects,
    columns=entity("orders").columns,
    optional=True,
    adapter=PLATFORM,
    description=(
        "WooCommerce REST API v3 orders (response bodies of GET /wp-json/wc/v3/orders), one row "
        "per order, loaded into raw.orders (docs/sources/woocommerce.md)."
    ),
)
ORDER_LINES = Entity(
    source=PLATFORM,
    name="order_lines",
    pattern="orders_*.json",
    format="json",
    key=entity("order_lines").key,
    affects=entity("order_lines").affects,
    columns=entity("order_lines").columns,
    optional=True,
    adapter=PLATFORM,
    description=(
        "WooCommerce REST API v3 order line items (line_items of GET /wp-json/wc/v3/orders), "
        "loaded into raw.order_lines (docs/sources/woocommerce.md)."
    ),
)


def _order_files(path: str) -> list[str]:
    """The folder's orders files a refund looks its parent order up in."""
    return [str(p) for p, _ in entity_files(ORDERS, _landing_of(path))]


def _currency_setting(landing_dir: Path) -> str:
    """What orders and lines depend on besides their file: the reporting and accepted
    currencies."""
    return currency_setting(load_profile(landing_dir))


def _refunds_depend_on(landing_dir: Path) -> str:
    """What refunds depend on besides their file: the currency and the orders files (name,
    size, modification time), so a refund quarantined for a missing parent order loads once
    the order is delivered."""
    stamps = [
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p, _ in entity_files(ORDERS, landing_dir)
    ]
    return ";".join([_currency_setting(landing_dir), *stamps])


def stage_parents(con: duckdb.DuckDBPyConnection, batch_paths: list[Path]) -> None:
    """Read the folder's orders files once for a batch of refunds files: their orders, lines
    and why an order is not loaded, as the temp tables every refunds file's select joins."""
    path = str(batch_paths[0])
    accepted = accepted_currencies(load_profile(_landing_of(path)))
    files = _order_files(path)
    if files:
        docs = (
            "select filename as file_no, cast(content as json) as j "
            f"from read_text([{', '.join(ql(f) for f in files)}]) where json_valid(content)"
        )
    else:
        docs = "select '' as file_no, cast(null as json) as j where false"
    orders_ctes = f"order_docs as ({docs}),\n{_orders_sql('order_docs')}"
    for statement in parents_statements(orders_ctes, _order_reason(accepted)):
        con.execute(statement)


def flatten_returns(path: str, name: str, order: int) -> str:
    """One row per refunded line item of a refunds file, as the returns contract's columns
    (joined with the orders `stage_parents` read for its batch)."""
    return returns_select(path, name, order)


RETURNS = Entity(
    source=PLATFORM,
    name="returns",
    pattern="refunds_*.json",
    format="json",
    key=entity("returns").key,
    affects=entity("returns").affects,
    columns=entity("returns").columns,
    optional=True,
    adapter=PLATFORM,
    description=(
        "WooCommerce REST API v3 order refunds (GET /wp-json/wc/v3/orders/<id>/refunds), one "
        "row per refunded line item, loaded into raw.returns (docs/sources/woocommerce.md)."
    ),
)

_SHAPE_ORDERS = "an array of orders as GET /wp-json/wc/v3/orders answers, or one order"
_SHAPE_REFUNDS = (
    "an array of refunds as GET /wp-json/wc/v3/orders/<id>/refunds answers, or one refund"
)
# raw table -> adapter (one folder, three raw tables)
ADAPTERS: dict[str, Adapter] = {
    a.entity.name: a
    for a in (
        Adapter(
            PLATFORM,
            "WooCommerce REST API v3 orders",
            _SHAPE_ORDERS,
            ORDERS,
            flatten_orders,
            SEEDS,
            item="order",
            fingerprint=_currency_setting,
        ),
        Adapter(
            PLATFORM,
            "WooCommerce REST API v3 orders",
            _SHAPE_ORDERS,
            ORDER_LINES,
            flatten_order_lines,
            SEEDS,
            item="order line item",
            fingerprint=_currency_setting,
        ),
        Adapter(
            PLATFORM,
            "WooCommerce REST API v3 order refunds",
            _SHAPE_REFUNDS,
            RETURNS,
            flatten_returns,
            SEEDS,
            item="refund",
            fingerprint=_refunds_depend_on,
            prepare=stage_parents,
        ),
    )
}
