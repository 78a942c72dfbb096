"""The SQL that flattens Shopify connector tables into the native contracts' text columns:
one select per raw table, over the driving file and the joined tables (`shopify.py` runs it;
docs/sources/shopify.md documents the mapping and every quarantine reason)."""

from __future__ import annotations

import duckdb

from returnlens.adapters.common import ADAPTER_REASON, AMOUNT, CURRENCY, utc_text
from returnlens.adapters.shopify_tables import COLUMNS
from returnlens.warehouse import quote_literal as ql

DOCS = "docs/sources/shopify.md"
NO_REFUND = "(no refund)"  # seed row of a returned line without a refund line
ONE_SIZE = "one-size"  # the contract's size of a product without sizes


def _deleted(alias: str = "d") -> str:
    return (
        f"case when lower({alias}._fivetran_deleted) = 'true' then 'deleted in Shopify "
        "(_fivetran_deleted is true): not a current row; deliver the table without it' end"
    )


def _currency(expr: str, reporting: str, table: str) -> str:
    """Why a row of an order in currency `expr` is not loaded: its currency is missing, or
    not in `_accepted_currencies` (registered per batch from the shop profile by
    `register_accepted_currencies`; '*' accepts any ISO 4217 code, an open value set)."""
    return (
        f"case when {expr} is null then 'currency of the order missing: the order table gives "
        f"it; deliver the {table} with its currency' "
        f"when not ({expr} in (select accepted_currency from _accepted_currencies) "
        "or ('*' in (select accepted_currency from _accepted_currencies) "
        f"and regexp_full_match({expr}, {ql(CURRENCY)}))) "
        "then 'the order''s currency is not listed in values.currency of the shop profile "
        "(returnlens.yml): add it there and deliver its daily rates in exchange_rates/ "
        "(docs/contracts/exchange_rates.md) so dbt converts its amounts into the reporting "
        f"currency {reporting}, or set shop.reporting_currency if the shop reports in it "
        f"({DOCS})' end"
    )


def register_accepted_currencies(
    con: duckdb.DuckDBPyConnection, accepted: tuple[str, ...] | None
) -> None:
    """The currencies `_currency` accepts, as the temp table `_accepted_currencies`."""
    con.execute("create or replace temp table _accepted_currencies (accepted_currency varchar)")
    con.executemany(
        "insert into _accepted_currencies values (?)", [[c] for c in (accepted or ("*",))]
    )


def flatten_orders(driving: str, lookups: dict[str, str], name: str, order: int, cur: str) -> str:
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


def flatten_order_lines(
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


def flatten_returns(driving: str, lookups: dict[str, str], name: str, order: int, cur: str) -> str:
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


def flatten_products(driving: str, lookups: dict[str, str], name: str, order: int, cur: str) -> str:
    return f"""
    with d as ({driving}),
    products as ({lookups["product"]}),
    items as ({lookups["inventory_item"]}),
    shops as ({lookups["shop"]}),
    options as (
        select o.product_id, o.position, n.attribute
        from ({lookups["product_option"]}) as o
        join _seed_shopify_option_names as n on lower(trim(o.name)) = n.option_name
    ),
    attrs as (
        select
            d.id,
            max(case when o.attribute = 'size' then case o.position
                when '1' then d.option_1 when '2' then d.option_2 when '3' then d.option_3
                end end) as size,
            max(case when o.attribute = 'colour' then case o.position
                when '1' then d.option_1 when '2' then d.option_2 when '3' then d.option_3
                end end) as colour,
            count(*) filter (where o.attribute = 'size') as size_options
        from d
        left join options as o on d.product_id = o.product_id
        group by d.id
    )
    select
        d.sku,
        d.product_id,
        p.title as product_name,
        t.category,
        t.subcategory,
        case when a.size_options = 0 then {ql(ONE_SIZE)} else a.size end as size,
        a.colour,
        p.vendor as supplier_id,
        d.price as list_price_eur,
        coalesce(i.unit_cost_amount, i.cost) as unit_cost_eur,
        d.grams as weight_g,
        cast(json_object(
            'variant_id', d.id, 'variant_title', d.title, 'product_type', p.product_type,
            'status', p.status, 'unit_cost_currency_code', i.unit_cost_currency_code
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        d._row_no as _file_row_number,
        concat_ws('; ',
            {_deleted()},
            case when p.id is null then 'product_id has no row in the product table (name, '
                || 'type, vendor): deliver the product table with product_variant' end,
            case when p.id is not null and t.product_type is null then 'a product_type not in '
                || 'seeds/shopify_product_types.csv (or none): add it there with its category '
                || 'and subcategory' end,
            case when p.id is not null and a.colour is null then 'no colour: the product has '
                || 'no option named as seeds/shopify_option_names.csv lists for colour (Color, '
                || 'Colour, Kleur, ...): add the option in Shopify or its name to the seed' end,
            case when i.unit_cost_currency_code is not null
                and i.unit_cost_currency_code <> {ql(cur)}
                then 'unit_cost_currency_code is not shop.reporting_currency of the shop '
                    || 'profile: the cost is not converted; set shop.reporting_currency ({DOCS})'
            end,
            case when s.currency is not null and s.currency <> {ql(cur)}
                then 'the shop table''s currency (of every price) is not '
                    || 'shop.reporting_currency of the shop profile: prices are not converted; '
                    || 'set shop.reporting_currency ({DOCS})'
            end
        ) as {ADAPTER_REASON}
    from d
    left join products as p on d.product_id = p.id
    left join _seed_shopify_product_types as t on p.product_type = t.product_type
    left join items as i on d.inventory_item_id = i.id
    left join attrs as a on d.id = a.id
    left join (select currency from shops limit 1) as s on true
    """


def flatten_customers(
    driving: str, lookups: dict[str, str], name: str, order: int, cur: str
) -> str:
    """`customer` with its default address (`customer_address`: the row the customer's
    `default_address_id` names, else the one marked `is_default`). Personal data goes only
    into the contract's PII columns; `_extra` carries the account's state, flags and times."""
    # two rows of one id with any other value read are two versions of the customer
    values = ", ".join(f"d.{c}" for c in COLUMNS["customer"] if c != "id")
    return f"""
    with d as ({driving}),
    addresses as ({lookups["customer_address"]}),
    versions as (
        select d.id, count(distinct hash({values})) as n from d
        where d.id is not null group by d.id
    ),
    picked as (
        select d._row_no, a.address_1, a.address_2, a.city, a.zip, a.country_code
        from d
        join addresses as a on a.customer_id = d.id
            and (a.id = d.default_address_id or lower(a.is_default) = 'true')
        qualify row_number() over (
            partition by d._row_no
            order by coalesce(a.id = d.default_address_id, false) desc, a.id
        ) = 1
    )
    select
        d.id as customer_id,
        d.first_name,
        d.last_name,
        d.email,
        d.phone,
        nullif(concat_ws(', ', p.address_1, p.address_2), '') as street,
        p.zip as postal_code,
        p.city,
        p.country_code,
        {utc_text("d.created_at")} as created_at,
        cast(json_object(
            'state', d.state, 'verified_email', d.verified_email, 'currency', d.currency,
            'updated_at', {utc_text("d.updated_at")}, 'default_address_id', d.default_address_id
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        d._row_no as _file_row_number,
        concat_ws('; ',
            {_deleted()},
            case when d.id is null then 'missing id (every customer has one): export the '
                || 'customer table again ({DOCS})' end,
            case when d.created_at is not null and try_cast(d.created_at as timestamptz) is null
                then 'created_at is not a time as the connector writes it (ISO 8601 with its '
                    || 'UTC offset, e.g. 2024-02-01T10:15:00+01:00, or a Parquet timestamp; '
                    || 'a spreadsheet re-saved it?): export the table again ({DOCS})' end,
            case when v.n > 1 then 'the customer''s id appears more than once in the file with '
                || 'different values (versions from several syncs; which is current is not '
                || 'known): export the table again with one current row per id ({DOCS})' end,
            case when d.id is not null and p._row_no is null then 'no default address in the '
                || 'customer_address table (no row of the customer that is its '
                || 'default_address_id or is_default): raw.customers needs street, postal code '
                || 'and city; deliver customer_address with customer, or give the customer an '
                || 'address in Shopify ({DOCS})' end
        ) as {ADAPTER_REASON}
    from d
    left join versions as v on d.id = v.id
    left join picked as p on d._row_no = p._row_no
    """
