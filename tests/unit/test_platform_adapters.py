"""Platform adapters (bol.com, Sendcloud) on hand-written fixtures built from the platforms'
documented examples (tests/data/platforms/, not from the generator): what loads into
raw.returns, what is quarantined and why, and that every documented outcome value is mapped.

Expectations are computed from the fixture files with the json module and from the mapping
seeds with the csv module, never from the loader's output.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from returnlens.adapters import ADAPTERS
from returnlens.ingest.contracts import REASON_CODES, RESOLUTIONS
from returnlens.ingest.loader import load_all, load_entity

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "platforms"
SEEDS = ROOT / "seeds"

# the enums as the platforms document them (SOURCES.md, the Retailer API v10 and Sendcloud
# Returns API v3 references); FAILED_TO_COLLECT_BY_TRANSPORTER is seen in live bol.com data
BOL_HANDLING_RESULTS = {
    "RETURN_RECEIVED",
    "EXCHANGE_PRODUCT",
    "RETURN_DOES_NOT_MEET_CONDITIONS",
    "REPAIR_PRODUCT",
    "CUSTOMER_KEEPS_PRODUCT_PAID",
    "STILL_APPROVED",
    "FAILED_TO_COLLECT_BY_TRANSPORTER",
}
SENDCLOUD_REFUND_TYPES = {"money", "credit", "exchange"}


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _landing(tmp_path: Path, platform: str) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / platform, landing)
    return landing


def _utc(text: str) -> str:
    from datetime import UTC, datetime

    ts = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(sep=" ")


def _loaded(con) -> dict[str, tuple]:
    rows = con.execute(
        "select rma_id, order_id, order_line_id, sku, quantity, reason_code, resolution, "
        "disposition, status, cast(requested_at as varchar), cast(received_at as varchar), "
        "cast(refunded_at as varchar) from raw.returns"
    ).fetchall()
    return {(r[0], r[3]): r for r in rows}


# ------------------------------------------------------------------------------ bol.com
def _bol_items() -> list[tuple[dict, dict]]:
    (path,) = (FIXTURES / "bol" / "bol").glob("*.json")
    doc = json.loads(path.read_text())
    return [(r, i) for r in doc["returns"] for i in r["returnItems"]]


def _bol_invalid(item: dict) -> bool:
    handling = {h["handling_result"] for h in _seed("bol_handling_results")}
    return (
        "rmaId" not in item
        or not isinstance(item["expectedQuantity"], int)
        or any(p["handlingResult"] not in handling for p in item["processingResults"])
    )


def test_bol_fixture_loads_every_valid_item_and_quarantines_the_invalid(con, tmp_path):
    landing = _landing(tmp_path, "bol")
    load_all(con, landing)
    items = _bol_items()
    valid = [(r, i) for r, i in items if not _bol_invalid(i)]
    assert len(valid) < len(items)  # the fixture holds invalid items
    audit = con.execute(
        "select source_file, status, rows_in, rows_loaded, rows_quarantined from raw.load_audit "
        "where entity = 'returns'"
    ).fetchall()
    assert audit == [
        ("bol/returns_2024-02-p1.json", "loaded", len(items), len(valid), len(items) - len(valid))
    ]
    reasons = [r for (r,) in con.execute("select reason from raw.quarantine_rows").fetchall()]
    assert any(r.startswith("missing rmaId") for r in reasons)
    assert any("bad integer in quantity" in r for r in reasons)
    assert any(r.startswith("a handlingResult bol.com does not document") for r in reasons)
    # no personal data, no value quoted in a reason
    assert not any("Klant" in r or "@" in r for r in reasons)

    handling = {h["handling_result"]: h for h in _seed("bol_handling_results")}
    reason_rows = _seed("bol_return_reasons")
    loaded = _loaded(con)
    assert len(loaded) == len(valid)
    for ret, item in valid:
        row = loaded[(str(item["rmaId"]), item["ean"])]
        results = sorted(item["processingResults"], key=lambda p: p["processingDateTime"])
        latest = results[-1] if results else None
        h = handling[latest["handlingResult"] if latest else "(not processed)"]
        main = item["returnReason"]["mainReason"]
        detailed = item["returnReason"].get("detailedReason")
        codes = [
            s["reason_code"]
            for s in reason_rows
            if s["main_reason"] == main and s["detailed_reason"] in (detailed, "")
        ]
        status = (
            latest["handlingResult"]
            if latest and latest["processingResult"] == "ACCEPTED"
            else latest["processingResult"]
            if latest
            else "PENDING"
        )
        at = _utc(latest["processingDateTime"]) if latest else None
        refunded = (
            at if h["is_refund_issued"] == "true" and status == latest["handlingResult"] else None
        )
        assert row == (
            str(item["rmaId"]),
            item["orderId"],
            f"{item['orderId']}-{item['ean']}",
            item["ean"],
            item["expectedQuantity"],
            codes[0],
            h["resolution"],
            h["disposition"] or None,
            status,
            _utc(ret["registrationDateTime"]),
            at if h["is_goods_received"] == "true" else None,
            refunded,
        )
    # personal data bol.com sends is not loaded, not even in _extra
    extras = " ".join(x for (x,) in con.execute("select _extra from raw.returns").fetchall())
    assert "customerDetails" not in extras and "example.invalid" not in extras


def test_bol_every_documented_handling_result_is_mapped_and_in_the_fixture():
    seed = {h["handling_result"]: h for h in _seed("bol_handling_results")}
    assert set(seed) >= BOL_HANDLING_RESULTS
    assert {h["resolution"] for h in seed.values()} <= set(RESOLUTIONS)
    assert seed["CUSTOMER_KEEPS_PRODUCT_PAID"]["resolution"] == "keep_it"
    in_fixture = {p["handlingResult"] for _, i in _bol_items() for p in i["processingResults"]}
    assert in_fixture >= BOL_HANDLING_RESULTS
    assert {s["reason_code"] for s in _seed("bol_return_reasons")} <= set(REASON_CODES)
    mains = {i["returnReason"]["mainReason"] for _, i in _bol_items()}
    assert {s["main_reason"] for s in _seed("bol_return_reasons")} <= mains


# ------------------------------------------------------------------------------ Sendcloud
def _sendcloud_returns() -> list[dict]:
    (path,) = (FIXTURES / "sendcloud" / "sendcloud").glob("*.json")
    return json.loads(path.read_text())


def test_sendcloud_fixture_loads_items_keeps_costs_and_quarantines_the_invalid(con, tmp_path):
    landing = _landing(tmp_path, "sendcloud")
    load_all(con, landing)
    refund_types = {s["refund_type"]: s["resolution"] for s in _seed("sendcloud_refund_types")}
    reasons_seed = {
        s["return_reason"].lower(): s["reason_code"] for s in _seed("sendcloud_return_reasons")
    }
    rows_in = valid = 0
    loaded = _loaded(con)
    for ret in _sendcloud_returns():
        items = ret["parcel_items"] or [None]
        rows_in += len(items)
        refund = ret.get("refund", {}).get("refund_type", "(not given)")
        cost = ret.get("label_cost", {}).get("value")
        bad_cost = cost is not None and round(float(cost), 2) != float(cost)
        for item in items:
            if (
                "id" not in ret
                or item is None
                or refund not in refund_types
                or bad_cost
                or not isinstance(item["quantity"], int)
            ):
                continue
            valid += 1
            reason = item.get("return_reason", ret.get("reason", {})).get("description", "")
            row = loaded[(str(ret["id"]), item["sku"])]
            assert row[:10] == (
                str(ret["id"]),
                ret["order_number"],
                f"{ret['order_number']}-{item['sku']}",
                item["sku"],
                item["quantity"],
                reasons_seed.get(reason.lower()),
                refund_types[refund],
                None,
                ret["status"],
                _utc(ret["created_at"]),
            )
            assert row[10] == (_utc(ret["delivered_at_iso"]) if "delivered_at_iso" in ret else None)
    assert len(loaded) == valid
    audit = con.execute(
        "select rows_in, rows_loaded, rows_quarantined from raw.load_audit where entity = 'returns'"
    ).fetchall()
    assert audit == [(rows_in, valid, rows_in - valid)]
    # label cost and return fee: the exact amounts with their currency, per return
    costs = dict(
        con.execute(
            "select distinct rma_id, (_extra::json ->> 'label_cost_value') || ' ' || "
            "(_extra::json ->> 'label_cost_currency') from raw.returns "
            "where _extra::json ->> 'label_cost_value' is not null"
        ).fetchall()
    )
    expected = {
        str(r["id"]): f"{r['label_cost']['value']} {r['label_cost']['currency']}"
        for r in _sendcloud_returns()
        if "label_cost" in r and str(r.get("id")) in costs
    }
    assert costs == expected
    fees = con.execute(
        "select distinct _extra::json ->> 'return_fee_value', _extra::json ->> 'return_fee_currency'"
        " from raw.returns where _extra::json ->> 'return_fee_value' is not null"
    ).fetchall()
    assert fees == [("2.5", "EUR")]
    reasons = [r for (r,) in con.execute("select reason from raw.quarantine_rows").fetchall()]
    assert any(r.startswith("missing id") for r in reasons)
    assert any(r.startswith("no parcel_items") for r in reasons)
    assert any(r.startswith("refund.refund_type is not one") for r in reasons)
    assert any(r.startswith("label_cost.value is not an amount") for r in reasons)
    assert any("bad integer in quantity" in r for r in reasons)


def test_sendcloud_every_documented_refund_type_and_reason_is_mapped_and_in_the_fixture():
    seed = {s["refund_type"]: s["resolution"] for s in _seed("sendcloud_refund_types")}
    assert set(seed) >= SENDCLOUD_REFUND_TYPES
    assert (seed["money"], seed["credit"], seed["exchange"]) == (
        "refund",
        "store_credit",
        "exchange",
    )
    in_fixture = {r["refund"]["refund_type"] for r in _sendcloud_returns() if "refund" in r}
    assert in_fixture >= SENDCLOUD_REFUND_TYPES
    reasons = {s["return_reason"] for s in _seed("sendcloud_return_reasons")}
    described = {
        i["return_reason"]["description"]
        for r in _sendcloud_returns()
        for i in r["parcel_items"]
        if "return_reason" in i
    }
    assert reasons <= described
    assert {s["reason_code"] for s in _seed("sendcloud_return_reasons")} <= set(REASON_CODES)


# ------------------------------------------------------------------------------ files
@pytest.mark.parametrize("platform", sorted(ADAPTERS))
def test_unreadable_and_empty_files_fail_whole_naming_file_and_fix(con, tmp_path, platform):
    landing = tmp_path / "landing" / platform
    landing.mkdir(parents=True)
    (landing / "returns_broken.json").write_text('{"returns": [{"rmaId": 1,')
    (landing / "returns_empty.json").write_text("{}")
    res = load_entity(con, ADAPTERS[platform].entity, tmp_path / "landing")
    by_file = {f.source_file: f for f in res.files}
    broken = by_file[f"{platform}/returns_broken.json"]
    empty = by_file[f"{platform}/returns_empty.json"]
    assert (broken.status, broken.rows_in) == ("failed", None)
    assert broken.error.startswith(f"{platform}/returns_broken.json: cannot be read as")
    assert f"docs/sources/{platform}.md" in broken.error and "rmaId" not in broken.error
    assert (empty.status, empty.rows_in) == ("failed", 0)
    assert "holds no returned item" in empty.error


def test_adapter_files_are_accounted_for_and_others_in_their_folder_are_unrecognised(con, tmp_path):
    landing = _landing(tmp_path, "bol")
    (landing / "bol" / "orders.json").write_text("{}")
    results = load_all(con, landing)
    unloaded = {f.source_file: f for f in results.unloaded}
    assert "bol/returns_2024-02-p1.json" not in unloaded
    assert unloaded["bol/orders.json"].status == "unrecognised"
    assert "docs/sources/bol.md" in unloaded["bol/orders.json"].error


def test_a_key_delivered_natively_and_by_a_platform_is_quarantined_once(con, tmp_path):
    landing = _landing(tmp_path, "bol")
    _ret, item = _bol_items()[0]
    (landing / "returns").mkdir()
    (landing / "returns" / "returns_2024-02.csv").write_text(
        "rma_id,order_id,order_line_id,sku,quantity,requested_at,resolution\n"
        f"{item['rmaId']},{item['orderId']},{item['orderId']}-{item['ean']},{item['ean']},1,"
        "2024-02-01 10:00:00,refund\n"
    )
    load_all(con, landing)
    (n,) = con.execute(
        "select count(*) from raw.returns where rma_id = ?", [str(item["rmaId"])]
    ).fetchall()[0]
    assert n == 1
    dup = con.execute(
        "select count(*) from raw.quarantine_rows where reason like 'duplicate key%'"
    ).fetchall()[0][0]
    assert dup == 1


def test_a_value_added_to_a_mapping_seed_maps_the_rows_it_quarantined(con, tmp_path, monkeypatch):
    """The quarantine reason says to add the handlingResult to the seed: doing so must load the
    row on the next run, without delivering the file again."""
    from returnlens.adapters import common

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    monkeypatch.setattr(common, "SEEDS_DIR", seeds)
    landing = _landing(tmp_path, "bol")
    entity = ADAPTERS["bol"].entity
    first = load_entity(con, entity, landing)
    assert (first.rows_loaded, first.rows_quarantined) == (10, 3)
    again = load_entity(con, entity, landing)
    assert [f.status for f in again.files] == ["unchanged"]
    with (seeds / "bol_handling_results.csv").open("a") as fh:
        fh.write("DESTROY_PRODUCT,refund,destroy,true,false,Destroyed by the seller.\n")
    remapped = load_entity(con, entity, landing)
    assert (remapped.rows_loaded, remapped.rows_quarantined) == (11, 2)
    (disposition,) = con.execute(
        "select disposition from raw.returns where rma_id = '31234578'"
    ).fetchall()[0]
    assert disposition == "destroy"


def test_replay_leaves_platform_rows_to_the_adapter(con, tmp_path):
    """`quarantine replay` re-checks the contract only: a row quarantined for what only the
    platform's rules say (an amount with three decimals) must not slip into raw that way."""
    from returnlens.ingest.quarantine import replay

    load_all(con, _landing(tmp_path, "sendcloud"))
    before = con.execute("select count(*) from raw.returns").fetchall()[0][0]
    quarantined = con.execute("select count(*) from raw.quarantine_rows").fetchall()[0][0]
    replay(con)
    assert con.execute("select count(*) from raw.returns").fetchall()[0][0] == before
    assert con.execute("select count(*) from raw.quarantine_rows").fetchall()[0][0] == quarantined


def test_every_code_and_outcome_the_adapters_write_is_known_to_the_native_seeds():
    """Reason codes go on through seed reason_code_map, statuses through return_status_map
    (normalised as staging does: lower case, '_' as a space): nothing an adapter writes may
    fall through as unmapped."""
    codes = {r["reason_code"] for r in _seed("reason_code_map")}
    written = {s["reason_code"] for s in _seed("bol_return_reasons")} | {
        s["reason_code"] for s in _seed("sendcloud_return_reasons")
    }
    assert written <= codes
    statuses = {r["status"] for r in _seed("return_status_map")}
    bol_statuses = BOL_HANDLING_RESULTS | {"PENDING", "REJECTED"}
    assert {s.lower().replace("_", " ") for s in bol_statuses} <= statuses
    in_fixture = {r["status"] for r in _sendcloud_returns()}
    assert in_fixture <= statuses


def test_the_landing_sensor_sees_platform_files_by_size_and_time(tmp_path):
    from orchestration.defs.automation.jobs import landing_stamps

    landing = _landing(tmp_path, "bol")
    stamps, busy = landing_stamps(landing, settle_seconds=0)
    stat = (landing / "bol" / "returns_2024-02-p1.json").stat()
    assert stamps == {"bol/returns_2024-02-p1.json": f"{stat.st_size}:{stat.st_mtime_ns}"}
    assert busy == []
