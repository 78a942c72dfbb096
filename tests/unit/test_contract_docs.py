"""The committed contract docs are exactly what the contracts render (they cannot drift)."""

from __future__ import annotations

import pytest

from returnlens.docs import CONTRACTS_DIR, render_source, write_contract_docs
from returnlens.ingest.contracts import ENTITIES, SOURCES

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("source", SOURCES)
def test_committed_docs_equal_the_rendering(source):
    committed = (CONTRACTS_DIR / f"{source}.md").read_text(encoding="utf-8")
    assert committed == render_source(source), (
        f"docs/contracts/{source}.md is stale: run `returnlens docs-contracts` and commit it"
    )


def test_docs_name_every_column_format_and_encoding(tmp_path):
    paths = write_contract_docs(tmp_path)
    text = "\n".join(p.read_text(encoding="utf-8") for p in paths)
    for e in ENTITIES:
        for spec in e.file_specs:
            assert f"`{e.source}/{spec.pattern}`" in text
        for c in e.columns:
            assert f"| `{c.name}` | {c.type} |" in text
    assert "UTF-8" in text and "Excel workbook" in text and "`_extra`" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}.md" for s in SOURCES)
