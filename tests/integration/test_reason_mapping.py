"""Free-text return reasons in Dutch, English, German and French map to the taxonomy.

The held-out sets in tests/data/ were each written by someone who saw only the taxonomy's
descriptions, never the keyword rules (seeds/reason_keywords.csv). Each set was scored once
blind when it arrived: a 84.6 %, b 86.9 %, c 88.5 %, d 84.6 % mapped right. Sets a, b and c
were then used to revise the rules (general phrases and priorities), so they are development
sets and must stay at >= 90 %. Set d's 84.6 % was the honest blind figure; the matcher's
revision (negation cues, reason precedence, stretched letters, contractions, compounds, an
n-gram index, general synonyms in four languages) was written after d's misses had been
read but without d's domain words ("joystick drift", "BIOS", "Kratzbaum"): d is no longer
blind (89.2 % now) and is held to a regression floor. Development set E (170 texts,
colloquial, typos, negations, several reasons in one text) was written before that
revision and scored 89.4 % on the old rules; it was then used for the revision, so it is a
development set too. Development set F (82 texts, written after the revision, avoiding
the keyword phrases) was scored once and not used since: 68.3 % (56/82), the honest figure
for texts unlike the rules' phrasing; its misses are vocabulary the rules lack ("Fehlkauf",
"toegestuurd", "fits like a tent") and context ("robe trop longue" read as a long
delivery). It is held to a regression floor; the figure that counts comes from a new
blind set.
Each text runs through the real intermediate model of the pipeline's warehouse (on a copy, in
place of the staging return lines): int_return_lines_mapped_to_reasons is a table (issue 16),
so its SQL as dbt compiled it in the pipeline's run is deployed as a view over the texts.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from returnlens.config import pii_salt

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parent.parent / "data"
TARGET = 0.90
# seen but not fitted (d), scored blind once (f): see the module docstring
FLOOR = {"reason_texts_heldout_d.csv": 0.85, "reason_texts_dev_f.csv": 0.65}


MODEL = "int_return_lines_mapped_to_reasons"


def _compiled_model_sql() -> str:
    """The select dbt compiled for MODEL in the latest build under target/ (the pipeline's)."""
    from returnlens.dbt_runner import target_dir

    files = sorted(
        target_dir().glob(f"**/compiled/returnlens/models/**/{MODEL}.sql"),
        key=lambda p: p.stat().st_mtime,
    )
    assert files, f"no compiled {MODEL}.sql under {target_dir()}: did the pipeline run?"
    return files[-1].read_text(encoding="utf-8")


def _mapped(
    warehouse: Path, tmp_path: Path, texts: list[str | None], codes: list[str | None] | None = None
) -> list[tuple[str, str]]:
    """(reason, reason_source) per text (and code), as int_return_lines_mapped_to_reasons maps it."""
    codes = codes or [None] * len(texts)
    model_sql = _compiled_model_sql()
    copy = tmp_path / warehouse.name  # same file stem: the views name the catalog
    shutil.copy(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        # the staging views hash customer ids with the run's salt, as under dbt
        con.execute("set variable returnlens_pii_salt = ?", [pii_salt()])
        con.execute(
            "create table main._heldout (row_id bigint, reason_text varchar, reason_code varchar)"
        )
        con.executemany(
            "insert into main._heldout values (?, ?, ?)",
            [(i, t, c) for i, (t, c) in enumerate(zip(texts, codes, strict=True))],
        )
        con.execute(
            "create table main._one_line as select * from staging.stg_returns__return_lines limit 1"
        )
        con.execute(
            "create or replace view staging.stg_returns__return_lines as "
            "select o.* replace (cast(h.row_id as varchar) as rma_id, "
            "h.reason_text as reason_text, h.reason_code as reason_code) "
            "from main._one_line as o cross join main._heldout as h"
        )
        con.execute(f"create view main._mapped as {model_sql}")
        rows = con.execute(
            "select cast(rma_id as bigint), reason, reason_source from main._mapped order by 1"
        ).fetchall()
    assert [r[0] for r in rows] == list(range(len(texts)))
    return [(r[1], r[2]) for r in rows]


def _load(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


SETS = [
    "reason_texts_heldout.csv",
    "reason_texts_heldout_b.csv",
    "reason_texts_heldout_c.csv",
    "reason_texts_heldout_d.csv",
    "reason_texts_dev_e.csv",
    "reason_texts_dev_f.csv",
    "reason_texts_heldout_e.csv",
]


@pytest.fixture(scope="module")
def mapped_sets(pipeline_run, tmp_path_factory) -> dict[str, tuple[list[dict], list]]:
    """Every set through the model in one query (one warehouse copy): set -> (cases, mapped)."""
    assert pipeline_run.success
    cases = {name: _load(name) for name in SETS}
    texts = [c["text"] for name in SETS for c in cases[name]]
    mapped = _mapped(pipeline_run.warehouse, tmp_path_factory.mktemp("reasons"), texts)
    out, start = {}, 0
    for name in SETS:
        out[name] = (cases[name], mapped[start : start + len(cases[name])])
        start += len(cases[name])
    return out


@pytest.mark.parametrize("heldout", SETS)
def test_free_text_reasons_map_to_the_taxonomy_in_four_languages(mapped_sets, heldout):
    cases, mapped = mapped_sets[heldout]
    assert {c["language"] for c in cases} == {"nl", "en", "de", "fr"}
    right = [c["expected_reason"] == m[0] for c, m in zip(cases, mapped, strict=True)]
    by_language = {}
    for c, ok in zip(cases, right, strict=True):
        hit, n = by_language.get(c["language"], (0, 0))
        by_language[c["language"]] = (hit + ok, n + 1)
    share = sum(right) / len(right)
    print(
        f"\nreason mapping on {heldout}: {sum(right)}/{len(right)} = {share:.1%} "
        + ", ".join(f"{lang} {h}/{n}" for lang, (h, n) in sorted(by_language.items()))
    )
    wrong = [
        (c["text"], c["expected_reason"], m[0])
        for c, m, ok in zip(cases, mapped, right, strict=True)
        if not ok
    ]
    assert share >= FLOOR.get(heldout, TARGET), f"{share:.1%} mapped right; wrong: {wrong}"
    # every text decided by a rule that says so (nothing silently 'unknown' with a text)
    assert {m[1] for m in mapped} <= {"reason_text", "reason_keywords", "unmapped_text"}
    unknown = [m for m in mapped if m[0] == "unknown"]
    assert all(m[1] == "unmapped_text" for m in unknown)


def test_platform_reason_values_map_through_the_model(pipeline_run, tmp_path):
    """Shopify's return_reason enum as codes, bol.com and Sendcloud labels as text."""
    from tests.unit.test_reason_seeds import (
        BOL_REASON_LABELS,
        SENDCLOUD_REASON_LABELS,
        SHOPIFY_RETURN_REASONS,
    )

    assert pipeline_run.success
    labels = {**BOL_REASON_LABELS, **SENDCLOUD_REASON_LABELS}
    texts = [None] * len(SHOPIFY_RETURN_REASONS) + list(labels)
    codes = list(SHOPIFY_RETURN_REASONS) + [None] * len(labels)
    mapped = _mapped(pipeline_run.warehouse, tmp_path, texts, codes)
    expected = list(SHOPIFY_RETURN_REASONS.values()) + list(labels.values())
    assert [m[0] for m in mapped] == expected
    # Shopify's codes decide as codes (UNKNOWN too: no text), the labels as exact variants
    assert {m[1] for m in mapped[: len(SHOPIFY_RETURN_REASONS)]} == {"reason_code"}
    assert {m[1] for m in mapped[len(SHOPIFY_RETURN_REASONS) :]} == {"reason_text"}


# The keyword rules end to end on the real seeds (moved here from the dbt unit test of
# int_return_lines_mapped_to_reasons when the matching was split over three views).
KEYWORD_CASES = {
    # a negated keyword does not count, nor does a keyword inside the negated phrase
    "Not too small": ("unknown", "unmapped_text"),
    "Niet te klein maar veel te groot": ("size_too_large", "reason_keywords"),
    # a comma ends the negation
    "Passt nicht, zu klein": ("size_too_small", "reason_keywords"),
    "pas trop petit, plutôt trop grand": ("size_too_large", "reason_keywords"),
    "Verpackung war unbeschädigt, aber das Gerät ist defekt": ("defective", "reason_keywords"),
    # a named defect beats "changed my mind"
    "Changed my mind, also it stopped working": ("defective", "reason_keywords"),
    # stretched letters, umlauts spelt out, contractions without apostrophe, compounds
    "Waaaay tooo small!!!": ("size_too_small", "reason_keywords"),
    "gefaellt mir nicht": ("changed_mind", "reason_keywords"),
    "it doesnt work": ("defective", "reason_keywords"),
    "Versandschaden am Karton": ("damaged_in_transit", "reason_keywords"),
    # only weak evidence: unmapped (the hint is in reason_suggested_by_keywords)
    "echt jammer": ("unknown", "unmapped_text"),
}


def test_negation_precedence_spelling_and_compounds_map_through_the_model(pipeline_run, tmp_path):
    assert pipeline_run.success
    mapped = _mapped(pipeline_run.warehouse, tmp_path, list(KEYWORD_CASES))
    assert dict(zip(KEYWORD_CASES, mapped, strict=True)) == KEYWORD_CASES
