"""bol.com Retailer API v10 returns, as JSON pages, onto `raw.returns` (docs/sources/bol.md).

A file is the response body of `GET /retailer/returns` (`{"returns": [...]}`), of
`GET /retailer/returns/{return-id}` (one return object), or a JSON array of return objects.
One row per return item (`rmaId`):

- `rma_id` = `rmaId`, `order_id` = `orderId`, `sku` = `ean`, `order_line_id` = `orderId-ean`
  (bol.com's return item names no order item), `quantity` = `expectedQuantity`;
- `requested_at` = the return's `registrationDateTime` in UTC;
- `reason_code` from `returnReason.mainReason` (and `detailedReason`) by seed
  `bol_return_reasons`; `reason_text` = main reason, detailed reason and `customerComments`
  (so an unmapped reason still reaches the text rules);
- the item's outcome is its latest `processingResults` entry (by `processingDateTime`):
  `resolution`, `disposition` and whether the goods came back or the money went out by seed
  `bol_handling_results` (`handlingResult`; an item without results: row `(not processed)`);
  `status` = the `handlingResult` of an ACCEPTED result, else `processingResult` (PENDING,
  REJECTED), else PENDING while not `handled` (mapped by seed `return_status_map`).

Quarantined besides the contract's checks: an item without `rmaId` or whose `rmaId` is not a
whole number, a `handlingResult` not in the seed, a `processingResult` other than PENDING,
ACCEPTED, REJECTED, a processing `quantity` that is not a whole number.
"""

from __future__ import annotations

from returnlens.adapters.common import ADAPTER_REASON, Adapter, array, text, utc_text
from returnlens.ingest.contracts import Entity, entity
from returnlens.warehouse import quote_literal as ql

PROCESSING_RESULTS = ("PENDING", "ACCEPTED", "REJECTED")
NOT_PROCESSED = "(not processed)"  # seed row of an item without processing results


def flatten(path: str, name: str, order: int) -> str:
    """One row per return item of a file, as the returns contract's text columns."""
    results = ", ".join(ql(v) for v in PROCESSING_RESULTS)
    return f"""
    with doc as (
        select cast(content as json) as j from read_text({ql(path)})
    ),
    returns_list as (
        select case
            when json_type(j) = 'ARRAY' then cast(j as json[])
            when json_type(j, '$.returns') = 'ARRAY' then cast(json_extract(j, '$.returns') as json[])
            when json_type(j, '$.returnItems') = 'ARRAY' then [j]
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
            unnest({array("r", "$.returnItems")}) as i,
            unnest(generate_series(1, len({array("r", "$.returnItems")}))) as item_no
        from returns
    ),
    results as (
        select return_no, item_no, unnest({array("i", "$.processingResults")}) as pr
        from items
    ),
    results_judged as (
        select
            return_no, item_no,
            count(*) filter (
                where {text("pr", "$.handlingResult")} is not null
                    and h.handling_result is null
            ) as unknown_handling,
            count(*) filter (
                where {text("pr", "$.processingResult")} is null
                    or {text("pr", "$.processingResult")} not in ({results})
            ) as unknown_processing,
            count(*) filter (
                where {text("pr", "$.quantity")} is not null
                    and not regexp_full_match({text("pr", "$.quantity")}, '[0-9]+')
            ) as bad_quantity,
            count(*) as n_results,
            arg_max(pr, coalesce({text("pr", "$.processingDateTime")}, '')) as latest
        from results
        left join _seed_bol_handling_results as h
            on {text("pr", "$.handlingResult")} = h.handling_result
        group by return_no, item_no
    ),
    flat as (
        select
            items.return_no, items.item_no,
            {text("r", "$.returnId")} as return_id,
            {text("r", "$.registrationDateTime")} as registration_at,
            {text("r", "$.fulfilmentMethod")} as fulfilment_method,
            {text("i", "$.rmaId")} as rma_id,
            {text("i", "$.orderId")} as order_id,
            {text("i", "$.ean")} as ean,
            {text("i", "$.title")} as title,
            {text("i", "$.expectedQuantity")} as expected_quantity,
            {text("i", "$.returnReason.mainReason")} as main_reason,
            {text("i", "$.returnReason.detailedReason")} as detailed_reason,
            {text("i", "$.returnReason.customerComments")} as customer_comments,
            {text("i", "$.trackAndTrace")} as track_and_trace,
            {text("i", "$.transporterName")} as transporter_name,
            {text("i", "$.handled")} as handled,
            coalesce(rj.unknown_handling, 0) as unknown_handling,
            coalesce(rj.unknown_processing, 0) as unknown_processing,
            coalesce(rj.bad_quantity, 0) as bad_quantity,
            coalesce(rj.n_results, 0) as n_results,
            {text("rj.latest", "$.handlingResult")} as handling_result,
            {text("rj.latest", "$.processingResult")} as processing_result,
            {text("rj.latest", "$.processingDateTime")} as processing_at
        from items
        left join results_judged as rj
            on items.return_no = rj.return_no and items.item_no = rj.item_no
    ),
    mapped as (
        select
            flat.*,
            h.resolution, h.disposition, h.is_goods_received, h.is_refund_issued,
            coalesce(specific.reason_code, general.reason_code) as reason_code
        from flat
        left join _seed_bol_handling_results as h
            on coalesce(flat.handling_result, {ql(NOT_PROCESSED)}) = h.handling_result
        left join _seed_bol_return_reasons as specific
            on lower(trim(flat.main_reason)) = lower(specific.main_reason)
            and lower(trim(flat.detailed_reason)) = lower(specific.detailed_reason)
        left join _seed_bol_return_reasons as general
            on lower(trim(flat.main_reason)) = lower(general.main_reason)
            and general.detailed_reason is null
    )
    select
        rma_id,
        order_id,
        order_id || '-' || ean as order_line_id,
        ean as sku,
        expected_quantity as quantity,
        reason_code,
        nullif(concat_ws('. ', main_reason, detailed_reason, customer_comments), '')
            as reason_text,
        {utc_text("registration_at")} as requested_at,
        case when is_goods_received = 'true' then {utc_text("processing_at")} end as received_at,
        cast(null as varchar) as inspected_at,
        case when is_refund_issued = 'true' and processing_result = 'ACCEPTED'
            then {utc_text("processing_at")} end as refunded_at,
        cast(null as varchar) as condition_grade,
        disposition,
        resolution,
        cast(null as varchar) as refund_amount_eur,
        case
            when processing_result = 'ACCEPTED' then handling_result
            when processing_result is not null then processing_result
            when handled = 'false' then 'PENDING'
        end as status,
        cast(json_object(
            'returnId', return_id,
            'ean', ean,
            'title', title,
            'mainReason', main_reason,
            'detailedReason', detailed_reason,
            'handlingResult', handling_result,
            'processingResult', processing_result,
            'processingResults', n_results,
            'fulfilmentMethod', fulfilment_method,
            'transporterName', transporter_name,
            'trackAndTrace', track_and_trace,
            'handled', handled
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        row_number() over (order by return_no, item_no) as _file_row_number,
        concat_ws('; ',
            case when rma_id is null
                then 'missing rmaId (every bol.com return item has one): export the return again'
                when not regexp_full_match(rma_id, '[0-9]+')
                then 'rmaId is not a whole number as the Retailer API writes it'
            end,
            case when unknown_handling > 0
                then 'a handlingResult bol.com does not document (not in '
                    || 'seeds/bol_handling_results.csv): add it there with its resolution'
            end,
            case when unknown_processing > 0
                then 'processingResult missing or not one of PENDING, ACCEPTED, REJECTED'
            end,
            case when bad_quantity > 0
                then 'processingResults quantity is not a whole number'
            end
        ) as {ADAPTER_REASON}
    from mapped
    """


ENTITY = Entity(
    source="bol",
    name="returns",
    pattern="returns_*.json",
    format="json",
    key=entity("returns").key,
    affects=entity("returns").affects,
    columns=entity("returns").columns,
    optional=True,
    adapter="bol",
    description=(
        "bol.com Retailer API v10 returns (response bodies of GET /retailer/returns), one row "
        "per return item (rmaId), loaded into raw.returns (docs/sources/bol.md)."
    ),
)

ADAPTER = Adapter(
    name="bol",
    label="bol.com Retailer API v10 returns",
    shape='{"returns": [...]} as GET /retailer/returns answers, or one return, or an array',
    entity=ENTITY,
    flatten=flatten,
    seeds=("bol_handling_results", "bol_return_reasons"),
)
