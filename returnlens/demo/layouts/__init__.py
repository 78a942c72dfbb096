"""The demo shop in a platform's layout: `returnlens generate --layout <platform>`.

The generator writes the shop natively (`returnlens.demo.generator`); a layout then converts
those files in place into what the platform delivers, read by its adapter
(`returnlens/adapters/`, docs/sources/<platform>.md): the same seed gives the same orders,
lines, returns, products and customers, in the platform's tables, field names and types.
What a platform does not have (clickstream, NPS, forecasts, suppliers, batches,
interventions, and for the returns platforms the shop's orders and products) stays in the
native files beside it, as a real shop would deliver them. Where the platform has no field for
a native value, the value is lost: each platform's page says what ("What the generated layout
lacks"), and tests/unit/test_layouts.py loads both layouts and compares the raw tables.

- `bol`, `sendcloud`: returns platforms (`returns_platforms.py`);
- `shopify`: Fivetran's connector tables as Parquet (`shopify.py`);
- `shopify-admin-export`: the admin "Export orders" CSV (`shopify_export.py`; no adapter reads
  it yet: it carries no line-level returns);
- `woocommerce`: REST API v3 orders and refunds as JSON (`woocommerce.py`).

Every conversion is set-based DuckDB over the native files (no Python loop over rows).
"""

from __future__ import annotations

from pathlib import Path

LAYOUTS = ("native", "shopify", "shopify-admin-export", "woocommerce", "bol", "sendcloud")
LAYOUT_HELP = (
    "Write the same shop as a platform delivers it (default: native): Shopify connector "
    "tables or its admin 'Export orders' CSV (no adapter reads it yet), WooCommerce REST orders and refunds, or the returns as bol.com or Sendcloud JSON; "
    "what the platform lacks stays in the native files (docs/sources/<platform>.md)."
)


def generate(out: Path, layout: str = "native", **options) -> dict:
    """`returnlens.demo.generator.generate(out, **options)` in `layout`: the summary, with the
    platform files' row counts under "rows". A platform layout converts clean files only:
    `dirty` is refused (ShapeError, naming the options) before anything is written."""
    from returnlens.demo.generator import generate as generate_native
    from returnlens.demo.shape import ShapeError

    if layout != "native" and options.get("dirty"):
        raise ShapeError(
            "--dirty writes native files with planted faults; a platform --layout converts "
            "clean files only: leave out --dirty or --layout"
        )
    summary = generate_native(out, **options)
    if layout != "native":
        summary["rows"] = {**summary["rows"], **write_layout(out, layout)}
        summary["layout"] = layout
    return summary


def write_layout(out: Path, layout: str) -> dict[str, int]:
    """Convert the native demo shop just written to `out` into `layout`, in place; the row
    counts of the platform files written."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if layout == "native":
        return {}
    from returnlens.demo.layouts import returns_platforms, shopify, shopify_export, woocommerce
    from returnlens.demo.layouts.common import connect

    writers = {
        "bol": returns_platforms.write_bol,
        "sendcloud": returns_platforms.write_sendcloud,
        "shopify": shopify.write_shopify,
        "shopify-admin-export": shopify_export.write_shopify_export,
        "woocommerce": woocommerce.write_woocommerce,
    }
    con = connect()
    try:
        return writers[layout](Path(out), con)
    finally:
        con.close()
