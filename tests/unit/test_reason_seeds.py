"""The reason seeds: every platform reason value maps to the taxonomy, and the keyword rules
are written so the matcher can find them.

Platform values are listed here from the platforms' documentation (Shopify's
ReturnReason enum on return_line_item.return_reason) and from the reason labels bol.com and
Sendcloud show customers (both deliver the reason as a label, so it maps as text through
reason_text_map). The expected reason of each value is written here by hand, not read from
the seeds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

SHOPIFY_RETURN_REASONS = {
    "COLOR": "changed_mind",  # "the customer didn't like the color"
    "DEFECTIVE": "defective",
    "NOT_AS_DESCRIBED": "not_as_described",
    "OTHER": "other",
    "SIZE_TOO_LARGE": "size_too_large",
    "SIZE_TOO_SMALL": "size_too_small",
    "STYLE": "changed_mind",  # "the customer didn't like the style"
    "UNKNOWN": "unknown",  # leaves the decision to the customer's note
    "UNWANTED": "changed_mind",
    "WRONG_ITEM": "wrong_item",
}

BOL_REASON_LABELS = {
    "Artikel is defect": "defective",
    "Product is defect": "defective",
    "Artikel werkt niet": "defective",
    "Artikel is beschadigd": "damaged_in_transit",
    "Beschadigd ontvangen": "damaged_in_transit",
    "Verkeerd artikel ontvangen": "wrong_item",
    "Verkeerd artikel geleverd": "wrong_item",
    "Niet naar verwachting": "not_as_described",
    "Artikel voldoet niet aan verwachting": "not_as_described",
    "Komt niet overeen met de omschrijving": "not_as_described",
    "Te laat geleverd": "late_delivery",
    "Ik heb me bedacht": "changed_mind",
    "Bedenktijd": "changed_mind",
    "Dubbel besteld": "other",
    "Verkeerd besteld": "other",
    "Anders, namelijk:": "other",
    "Anders": "other",
}

SENDCLOUD_REASON_LABELS = {
    "Product is defective": "defective",
    "Product is damaged": "damaged_in_transit",
    "Product does not match description": "not_as_described",
    "Wrong product delivered": "wrong_item",
    "Product arrived too late": "late_delivery",
    "Too big": "size_too_large",
    "Too small": "size_too_small",
    "Changed my mind": "changed_mind",
    "Ordered more than one size": "other",
    "Other": "other",
}


def _rows(name: str) -> list[dict]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _taxonomy() -> set[str]:
    return {r["reason"] for r in _rows("reason_taxonomy.csv")}


def _normalised(text: str) -> str:
    """As macro normalise_text: typographic apostrophe plain, lower case, whitespace collapsed."""
    return " ".join(text.replace("\u2019", "'").lower().split())


def test_every_shopify_return_reason_maps_to_its_taxonomy_reason():
    code_map = {r["reason_code"].strip().upper(): r["reason"] for r in _rows("reason_code_map.csv")}
    mapped = {code: code_map.get(code) for code in SHOPIFY_RETURN_REASONS}
    assert mapped == SHOPIFY_RETURN_REASONS
    assert set(mapped.values()) <= _taxonomy()


@pytest.mark.parametrize(
    "platform, labels",
    [("bol.com", BOL_REASON_LABELS), ("Sendcloud", SENDCLOUD_REASON_LABELS)],
)
def test_every_platform_reason_label_maps_exactly_to_its_taxonomy_reason(platform, labels):
    text_map = {_normalised(r["reason_text"]): r["reason"] for r in _rows("reason_text_map.csv")}
    mapped = {label: text_map.get(_normalised(label)) for label in labels}
    assert mapped == labels, f"{platform} labels not mapped as expected"
    assert set(mapped.values()) <= _taxonomy()


def test_keywords_are_folded_long_enough_for_the_index_and_point_at_the_taxonomy():
    rows = _rows("reason_keywords.csv")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789 _")
    bad = [r["keyword"] for r in rows if not set(r["keyword"]) <= allowed]
    assert bad == [], "keywords must be folded (lower case a-z, 0-9, space, _)"
    # the matcher indexes a keyword by its first four characters ('_' counts as a space)
    short = [r["keyword"] for r in rows if len(r["keyword"]) < 4]
    assert short == []
    assert {r["reason"] for r in rows} <= _taxonomy() - {"unknown"}
    pairs = [(r["keyword"], r["reason"]) for r in rows]
    assert len(pairs) == len(set(pairs))
    assert all(r["priority"].isdigit() for r in rows)
    assert {r["language"] for r in rows} <= {"nl", "en", "de", "fr", "all"}


def test_negation_cues_and_precedence_cover_what_the_matcher_needs():
    cues = [r["cue"] for r in _rows("reason_negations.csv")]
    assert all(c.startswith("_") and len(c) >= 3 for c in cues), "cues start at a word boundary"
    assert all(set(c) <= set("abcdefghijklmnopqrstuvwxyz _") for c in cues)
    precedence = {r["reason"]: int(r["precedence"]) for r in _rows("reason_precedence.csv")}
    assert set(precedence) == _taxonomy()
    # a named defect or wrong item beats the customer's change of mind
    assert precedence["wrong_item"] > precedence["defective"] > precedence["changed_mind"]


def test_seed_values_have_no_apostrophes():
    # dbt-spark's session seeds break on values with an apostrophe (DESIGN.md)
    for name in ("reason_keywords.csv", "reason_negations.csv", "reason_code_map.csv"):
        text = (SEEDS / name).read_text(encoding="utf-8")
        assert "'" not in text, name
