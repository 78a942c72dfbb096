"""Sendcloud Returns API v3 returns, as JSON, onto `raw.returns` (docs/sources/sendcloud.md).

A file is a JSON array of return objects (the pages of `GET /api/v3/returns` concatenated),
a page body with the returns under `data`, or one return object (`GET /api/v3/returns/{id}`).
One row per `parcel_items` entry (a return without items: one row, quarantined, so it is
counted and visible):

- `rma_id` = the return's `id`, `order_id` = `order_number`, `sku` = the item's `sku`,
  `order_line_id` = `order_number-sku`, `quantity` = the item's `quantity`;
- `requested_at` = `created_at` in UTC, `received_at` = `delivered_at_iso` (the parcel
  delivered back to the shop) in UTC; Sendcloud pays out nothing, so `refunded_at` and the
  refunded amount stay empty;
- `reason_code` from the item's `return_reason.description` (else the return's `reason`) by
  seed `sendcloud_return_reasons`; `reason_text` = that description and `return_message`;
- `resolution` from `refund.refund_type` (money, credit, exchange) by seed
  `sendcloud_refund_types` (no `refund` object: row `(not given)`); `status` = `status`
  (seed `return_status_map`).

`label_cost` and `return_fee` (per return, `{value, currency}`) are kept exactly, with their
currency, in `_extra` (`label_cost_value`, `label_cost_currency`, `return_fee_value`,
`return_fee_currency`); they repeat on each item row of a return, so sum them per `rma_id`.
Quarantined besides the contract's checks: a return without `id`, a `refund_type` not in the
seed, an amount that does not fit two decimals exactly or has no ISO currency, a return
without `parcel_items`.
"""

from __future__ import annotations

from returnlens.adapters.common import (
    ADAPTER_REASON,
    Adapter,
    amount_problem,
    array,
    text,
    utc_text,
)
from returnlens.ingest.contracts import Entity, entity
from returnlens.warehouse import quote_literal as ql

NOT_GIVEN = "(not given)"  # seed row of a return without a refund preference


def flatten(path: str, name: str, order: int) -> str:
    """One row per parcel item of a file, as the returns contract's text columns."""
    label = amount_problem(
        "label_cost_value", "label_cost_currency", "label_cost", "has_label_cost"
    )
    fee = amount_problem("return_fee_value", "return_fee_currency", "return_fee", "has_return_fee")
    return f"""
    with doc as (
        select cast(content as json) as j from read_text({ql(path)})
    ),
    returns_list as (
        select case
            when json_type(j) = 'ARRAY' then cast(j as json[])
            when json_type(j, '$.data') = 'ARRAY' then cast(json_extract(j, '$.data') as json[])
            when json_type(j, '$.data') = 'OBJECT' then [json_extract(j, '$.data')]
            when json_type(j) = 'OBJECT' and json_exists(j, '$.parcel_items') then [j]
            else []
        end as rs
        from doc
    ),
    returns as (
        select unnest(rs) as r, unnest(generate_series(1, len(rs))) as return_no
        from returns_list
    ),
    items as (
        select
            r, return_no,
            len({array("r", "$.parcel_items")}) = 0 as has_no_items,
            -- a return without items still gives one row (quarantined): nothing is dropped
            unnest(case when len({array("r", "$.parcel_items")}) = 0 then [cast(null as json)]
                else {array("r", "$.parcel_items")} end) as i,
            unnest(generate_series(1, greatest(len({array("r", "$.parcel_items")}), 1)))
                as item_no
        from returns
    ),
    flat as (
        select
            return_no, item_no, has_no_items,
            {text("r", "$.id")} as return_id,
            {text("r", "$.order_number")} as order_number,
            {text("r", "$.created_at")} as created_at,
            {text("r", "$.delivered_at_iso")} as delivered_at,
            {text("r", "$.status")} as status,
            {text("r", "$.delivery_option")} as delivery_option,
            {text("r", "$.tracking_number")} as tracking_number,
            json_exists(r, '$.refund') and json_type(r, '$.refund') <> 'NULL' as has_refund,
            {text("r", "$.refund.refund_type")} as refund_type,
            json_type(r, '$.label_cost') = 'OBJECT' as has_label_cost,
            {text("r", "$.label_cost.value")} as label_cost_value,
            {text("r", "$.label_cost.currency")} as label_cost_currency,
            json_type(r, '$.return_fee') = 'OBJECT' as has_return_fee,
            {text("r", "$.return_fee.value")} as return_fee_value,
            {text("r", "$.return_fee.currency")} as return_fee_currency,
            coalesce({text("i", "$.return_reason.description")},
                {text("r", "$.reason.description")}) as reason_description,
            coalesce({text("i", "$.return_reason.id")}, {text("r", "$.reason.id")})
                as reason_id,
            {text("i", "$.return_message")} as return_message,
            {text("i", "$.sku")} as sku,
            {text("i", "$.product_id")} as product_id,
            {text("i", "$.variant_id")} as variant_id,
            {text("i", "$.description")} as item_description,
            {text("i", "$.quantity")} as quantity,
            {text("i", "$.value.value")} as item_value,
            {text("i", "$.value.currency")} as item_value_currency
        from items
    ),
    mapped as (
        select
            flat.*,
            refund_types.resolution,
            refund_types.refund_type is null as is_unknown_refund_type,
            reasons.reason_code
        from flat
        left join _seed_sendcloud_refund_types as refund_types
            on case when flat.has_refund then flat.refund_type else {ql(NOT_GIVEN)} end
                = refund_types.refund_type
        left join _seed_sendcloud_return_reasons as reasons
            on lower(trim(flat.reason_description)) = lower(reasons.return_reason)
    )
    select
        return_id as rma_id,
        order_number as order_id,
        order_number || '-' || sku as order_line_id,
        sku,
        quantity,
        reason_code,
        nullif(concat_ws('. ', reason_description, return_message), '') as reason_text,
        {utc_text("created_at")} as requested_at,
        {utc_text("delivered_at")} as received_at,
        cast(null as varchar) as inspected_at,
        cast(null as varchar) as refunded_at,
        cast(null as varchar) as condition_grade,
        cast(null as varchar) as disposition,
        resolution,
        cast(null as varchar) as refund_amount_eur,
        status,
        cast(json_object(
            'return_id', return_id,
            'delivery_option', delivery_option,
            'tracking_number', tracking_number,
            'refund_type', refund_type,
            'label_cost_value', label_cost_value,
            'label_cost_currency', label_cost_currency,
            'return_fee_value', return_fee_value,
            'return_fee_currency', return_fee_currency,
            'return_reason_id', reason_id,
            'product_id', product_id,
            'variant_id', variant_id,
            'description', item_description,
            'value', item_value,
            'value_currency', item_value_currency
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        row_number() over (order by return_no, item_no) as _file_row_number,
        concat_ws('; ',
            case when return_id is null
                then 'missing id (every Sendcloud return has one): export the return again'
            end,
            case when has_no_items
                then 'no parcel_items: the returned products are unknown; create returns '
                    || 'with parcel_items (sku, quantity) in Sendcloud and export them again'
            end,
            case when is_unknown_refund_type
                then 'refund.refund_type is not one Sendcloud documents (not in '
                    || 'seeds/sendcloud_refund_types.csv): add it there with its resolution'
            end,
            {label},
            {fee}
        ) as {ADAPTER_REASON}
    from mapped
    """


ENTITY = Entity(
    source="sendcloud",
    name="returns",
    pattern="returns_*.json",
    format="json",
    key=entity("returns").key,
    affects=entity("returns").affects,
    columns=entity("returns").columns,
    optional=True,
    adapter="sendcloud",
    description=(
        "Sendcloud Returns API v3 return objects, one row per parcel item, loaded into "
        "raw.returns (docs/sources/sendcloud.md)."
    ),
)

ADAPTER = Adapter(
    name="sendcloud",
    label="Sendcloud Returns API v3",
    shape="an array of return objects, a page with them under data, or one return object",
    entity=ENTITY,
    flatten=flatten,
    seeds=("sendcloud_refund_types", "sendcloud_return_reasons"),
)
