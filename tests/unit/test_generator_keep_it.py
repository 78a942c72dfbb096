"""The demo shop's keep-it products (returnlens/demo/keep_it.py): the planting changes nothing
but the planted products' unit costs (and adds its truth), and prices the lines with the cost
seed's documented defaults. That the same seed gives the same bytes: test_generator.py; that
the truth equals the landing files and the published advice:
tests/integration/test_keep_it_advice.py."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from returnlens.demo import generator, keep_it
from returnlens.demo.generator import generate

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "seeds" / "return_cost_parameters.csv"


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_generator_prices_lines_with_the_seeds_defaults():
    seed = {(r["parameter"], r["applies_to"]): r["value"] for r in _rows(SEED)}
    cents = {k: round(float(v) * 100) for k, v in seed.items()}
    d = keep_it.COST_DEFAULTS
    assert d["return_label_c"] == {a: c for (p, a), c in cents.items() if p == "return_label"}
    assert d["take_back_minutes"] == {
        a: int(seed[("handling_minutes", a)]) for a in ("receive", "inspect")
    }
    assert d["handling_hourly_rate_c"] == cents[("handling_hourly_rate", "default")]
    assert d["refurbishment_c"] == {a: c for (p, a), c in cents.items() if p == "refurbishment"}
    assert d["recovery_percent"] == {a: c for (p, a), c in cents.items() if p == "recovery_share"}


def test_the_planting_changes_only_the_planted_costs(tmp_path, monkeypatch):
    """The shop of test_generator.py's same-seed test (seed 3, scale 0.05), which shows that it
    is deterministic bytes and all, plants 3 keep-it products and 3 controls; without the
    planting every file but products.csv is the same, and products.csv differs only in the unit
    cost of the planted products."""
    planted, bare = tmp_path / "planted", tmp_path / "bare"
    generate(planted, seed=3, scale=0.05)
    monkeypatch.setattr(generator.keep_it, "plant", lambda *args: None)
    generate(bare, seed=3, scale=0.05)

    truth = json.loads((planted / "ground_truth.json").read_text())
    keep = truth.pop("keep_it")
    assert truth == json.loads((bare / "ground_truth.json").read_text())
    assert len(keep["advised"]) == 3 and len(keep["not_advised"]) == 3
    a, b = _hashes(planted), _hashes(bare)
    assert a.keys() == b.keys()
    assert {f for f in a if a[f] != b[f]} == {"ground_truth.json", "shop/products.csv"}
    before, after = _rows(bare / "shop" / "products.csv"), _rows(planted / "shop" / "products.csv")
    assert len(before) == len(after)
    changed = set()
    for old, new in zip(before, after, strict=True):
        assert {k: v for k, v in old.items() if k != "unit_cost_eur"} == {
            k: v for k, v in new.items() if k != "unit_cost_eur"
        }
        if old["unit_cost_eur"] != new["unit_cost_eur"]:
            changed.add(new["product_id"])
            facts = keep["products"][new["product_id"]]
            assert float(old["unit_cost_eur"]) == facts["unit_cost_before_planting_eur"]
            assert float(new["unit_cost_eur"]) == facts["unit_cost_eur"]
            high = keep["planted_cost_share_of_list_price"][1]
            price = float(new["list_price_eur"])
            assert float(new["unit_cost_eur"]) <= max(0.5, high * price + 0.005)
    assert changed == set(keep["advised"])
