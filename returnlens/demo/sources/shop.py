"""The shop source: products.csv, customers.csv, and monthly order_lines and orders files.

Personal data is formatted per country of the shop (phone numbers, postal codes, e-mail domains)
in DuckDB from the drawn integers and word lists.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from returnlens.demo import world as W
from returnlens.demo.shape import Shape
from returnlens.demo.sources.files import (
    CSV_OPTS,
    Layout,
    Writer,
    dictionary,
    dup_index,
    id_sql,
    money_sql,
    optional,
    sql_literal,
    take,
    ts_array,
)


def _country_list(shape: Shape) -> str:
    """The shop's country codes as a DuckDB list literal (index: country + 1)."""
    return "[" + ", ".join(sql_literal(c) for c in shape.countries) + "]"


def _by_country(shape: Shape, expr) -> str:
    """A case over the country index giving `expr(country code)`."""
    whens = " ".join(f"when {i} then {expr(c)}" for i, c in enumerate(shape.countries))
    return f"case country {whens} end"


def _phone_sql(country: str) -> str:
    if country == "NL":
        return "'+31 6 ' || lpad(cast(phone as varchar), 8, '0')"
    if country == "BE":
        return "'+32 4' || lpad(cast(phone % 100000000 as varchar), 8, '0')"
    if country == "DE":
        return "'+49 15' || lpad(cast(phone as varchar), 8, '0')"
    if country in W.CALLING_CODE:
        return f"'+{W.CALLING_CODE[country]} ' || lpad(cast(phone as varchar), 8, '0')"
    return "cast(null as varchar)"


def _postal_sql(shape: Shape):
    def expr(country: str) -> str:
        kind = shape.postal_kind(country)
        if kind == "nl":
            return (
                "cast(postal as varchar) || ' ' || chr(cast(65 + l1 as integer)) "
                "|| chr(cast(65 + l2 as integer))"
            )
        if kind == "be":
            return "cast(postal as varchar)"
        if kind == "alnum":  # a country whose codes are not all digits: CC-12345
            return f"{sql_literal(country + '-')} || lpad(cast(postal as varchar), 5, '0')"
        n = int(kind.removeprefix("digits"))
        return f"lpad(cast(postal % {10**n} as varchar), {n}, '0')"

    return expr


def _email_domains(shape: Shape) -> list[str]:
    return [f"mail.example.{c.lower()}" for c in shape.countries] + ["example.com"]


def write_products(wr: Writer, cat, drng) -> None:
    """products.csv: one row per sku; a few products have no weight (more in dirty mode)."""
    out = wr.out
    nullshare = W.DIRTY["optional_null_share"]
    shape = cat.shape
    archs = np.array(shape.category_archetypes)
    sp = cat.s_prod
    weight = cat.p_weight[sp]
    if drng is not None:
        weight = np.where(drng.random(len(sp)) < nullshare, -1, weight)
    else:
        weight = np.where((sp % 37) == 5, -1, weight)  # a few products without a weight
    sizes = [s for c in ("apparel", "shoes") for s in W.SIZES[c]]
    sp_arch = archs[cat.p_cat[sp]]
    size_word = np.where(
        sp_arch == "apparel",
        cat.s_size,
        np.where(sp_arch == "shoes", 6 + cat.s_size, len(sizes)),
    )
    t = pa.table(
        {
            "sku": pa.array(cat.sku_code),
            "prod": dictionary(sp, cat.p_code),
            "name": dictionary(sp, cat.p_name),
            "cat": dictionary(cat.p_cat[sp], shape.categories),
            "sub": dictionary(cat.p_sub[sp], [s[1] for s in shape.subcategories]),
            "size": dictionary(size_word, [*sizes, W.ONE_SIZE]),
            "colour": dictionary(cat.s_col, [c[1] for c in W.COLOURS]),
            "sup": dictionary(cat.p_sup[sp], cat.sup_ids),
            "price": cat.p_price[sp],
            "cost": cat.p_cost[sp],
            "weight": optional(weight),
        }
    )
    wr.copy(
        t,
        "select sku, cast(prod as varchar) as product_id, cast(name as varchar) as product_name, "
        "cast(cat as varchar) as category, cast(sub as varchar) as subcategory, "
        "cast(size as varchar) as size, cast(colour as varchar) as colour, "
        f"cast(sup as varchar) as supplier_id, {money_sql('price')} as list_price_eur, "
        f"{money_sql('cost')} as unit_cost_eur, cast(weight as integer) as weight_g "
        "from src order by sku",
        out / "shop" / "products.csv",
        CSV_OPTS,
        "products",
    )


def write_customers(wr: Writer, cust, layout: Layout, drng) -> None:
    """customers.csv, with duplicated rows and more missing phones in dirty mode."""
    out = wr.out
    share = W.DIRTY["duplicate_row_share"]
    nullshare = W.DIRTY["optional_null_share"]
    shape = cust.shape
    wc = layout.wc
    phone_null = cust.phone_null
    if drng is not None:
        phone_null = phone_null | (drng.random(cust.n) < nullshare)
    t = pa.table(
        {
            "i": np.arange(cust.n),
            "first": cust.first,
            "last": cust.last,
            "country": cust.country,
            "domain": dictionary(cust.domain, _email_domains(shape)),
            "phone": pa.array(cust.phone, mask=phone_null),
            "root": cust.street_root,
            "suffix": cust.suffix,
            "house": cust.house,
            "postal": cust.postal,
            "l1": cust.letters[:, 0],
            "l2": cust.letters[:, 1],
            "city": cust.city,
            "created": cust.created.astype("datetime64[s]"),
        }
    )
    email_part = "regexp_replace(lower(strip_accents(cast({} as varchar))), '[^a-z]', '', 'g')"
    sql = f"""
        select {id_sql("i", "C", wc)} as customer_id,
            cast(first as varchar) as first_name,
            cast(last as varchar) as last_name,
            {email_part.format("first")} || '.' || {email_part.format("last")} || '.'
                || cast(i + 1 as varchar) || '@' || cast(domain as varchar) as email,
            {_by_country(shape, _phone_sql)} as phone,
            cast(root as varchar) || cast(suffix as varchar) || ' ' || cast(house as varchar)
                as street,
            {_by_country(shape, _postal_sql(shape))} as postal_code,
            cast(city as varchar) as city,
            {_country_list(shape)}[country + 1] as country_code,
            cast(created as timestamp) as created_at
        from src"""
    idx = dup_index(drng, cust.n, share)
    t, _ = take(t, None, idx)
    wr.copy(t, sql, out / "shop" / "customers.csv", CSV_OPTS, "customers")


def write_order_lines(wr: Writer, cat, od, layout: Layout, drng) -> None:
    """order_lines_<month>.csv by the order's month; no batch without a purchasing source."""
    share = W.DIRTY["duplicate_row_share"]
    nullshare = W.DIRTY["optional_null_share"]
    shape = cat.shape
    wo, labels, bounds = layout.wo, layout.labels, layout.bounds
    batch = od.ln_batch.copy()
    if "purchasing" in shape.absent:  # no batches delivered: no batch on a line
        batch = np.full(len(batch), -1, batch.dtype)
    if drng is not None:
        batch = np.where(drng.random(len(batch)) < nullshare, -1, batch)
    t = pa.table(
        {
            "o": od.ln_order,
            "n": od.ln_number,
            "sku": dictionary(od.ln_sku, cat.sku_code),
            "q": od.ln_qty,
            "unit": od.ln_unit,
            "disc": od.ln_disc,
            "batch": dictionary(batch, cat.b_code),
        }
    )
    sql = f"""
        select {id_sql("o", "O", wo)} || '-' || cast(n as varchar) as order_line_id,
            {id_sql("o", "O", wo)} as order_id, cast(n as integer) as line_number,
            cast(sku as varchar) as sku, cast(q as integer) as quantity,
            {money_sql("unit")} as unit_price_eur, {money_sql("disc")} as discount_eur,
            cast(batch as varchar) as batch_id
        from src"""
    idx = dup_index(drng, len(od.ln_order), share)
    t, ts = take(t, od.ts[od.ln_order], idx)
    wr.monthly(t, ts, sql, "shop", "order_lines", "csv", CSV_OPTS, "order_lines", labels, bounds)


def write_orders(wr: Writer, cust, od, web, ws: int, layout: Layout, drng) -> None:
    """orders_<month>.csv, with the session that ended in the purchase (`web`: None without
    web tracking) in ids of `ws` digits."""
    share = W.DIRTY["duplicate_row_share"]
    nullshare = W.DIRTY["optional_null_share"]
    wo, wc, labels, bounds = layout.wo, layout.wc, layout.labels, layout.bounds
    currency = (
        "" if cust.shape.currency is None else f", {sql_literal(cust.shape.currency)} as currency"
    )
    session = np.full(od.n, -1, np.int64)
    if web is not None:
        session[web.web_orders] = web.order_session
    shipped = od.shipped.copy()
    if drng is not None:
        session = np.where(drng.random(od.n) < nullshare, -1, session)
        shipped = np.where(drng.random(od.n) < nullshare, -1, shipped)
    t = pa.table(
        {
            "o": np.arange(od.n),
            "c": od.customer,
            "s": optional(session),
            "ts": od.ts.astype("datetime64[s]"),
            "ch": dictionary(od.channel, cust.shape.channels),
            "country": cust.country[od.customer],
            "shipped": ts_array(shipped),
            "delivered": ts_array(od.delivered),
            "total": od.total_c,
        }
    )
    sql = f"""
        select {id_sql("o", "O", wo)} as order_id, {id_sql("c", "C", wc)} as customer_id,
            {id_sql("s", "S", ws)} as session_id, cast(ts as timestamp) as ordered_at,
            cast(ch as varchar) as channel,
            {_country_list(cust.shape)}[country + 1] as shipping_country,
            cast(shipped as timestamp) as shipped_at, cast(delivered as timestamp) as delivered_at,
            {money_sql("total", 12)} as order_total_eur{currency}
        from src"""
    idx = dup_index(drng, od.n, share)
    t, ts = take(t, od.ts, idx)
    wr.monthly(t, ts, sql, "shop", "orders", "csv", CSV_OPTS, "orders", labels, bounds)
