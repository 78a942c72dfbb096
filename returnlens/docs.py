"""Render `docs/contracts/<source>.md` from the landing contracts (one source of truth)."""

from __future__ import annotations

from pathlib import Path

from returnlens.config import PROJECT_ROOT
from returnlens.ingest.contracts import SOURCES, entities_of

CONTRACTS_DIR = PROJECT_ROOT / "docs" / "contracts"


def render_source(source: str) -> str:
    """Markdown for one landing source."""
    lines = [
        f"# Landing contract: `{source}/`",
        "",
        "Generated from `returnlens/ingest/contracts.py` by `returnlens docs-contracts`; "
        "edit the contract, not this file. The loader enforces exactly this: a row that breaks "
        "a rule goes to `raw.quarantine_rows` with the reason, a file that cannot be read goes "
        "to `raw.quarantine_files`, and `raw.load_audit` counts both.",
        "",
    ]
    for e in entities_of(source):
        lines += [
            f"## `{e.name}` → `raw.{e.name}`",
            "",
            e.description,
            "",
            f"- Files: `{source}/{e.pattern}` ({e.format.upper()}"
            + (
                ", UTF-8, comma-separated, header row, empty field = null)"
                if e.format == "csv"
                else ")"
            ),
            f"- Key: `{', '.join(e.key)}` (unique across all files of the entity)",
            "- Timestamps are UTC, `YYYY-MM-DD HH:MM:SS`; dates `YYYY-MM-DD`; money in EUR.",
            "",
            "| column | type | required | rule | meaning |",
            "|---|---|---|---|---|",
        ]
        for c in e.columns:
            rules = []
            if c.allowed:
                rules.append("one of " + ", ".join(f"`{v}`" for v in c.allowed))
            if c.min_value is not None:
                rules.append(f"≥ {c.min_value:g}")
            if c.pii:
                rules.append("PII: raw only")
            lines.append(
                f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | "
                f"{'; '.join(rules)} | {c.description} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_contract_docs(out_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """Write one markdown file per source; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in SOURCES:
        path = out_dir / f"{source}.md"
        path.write_text(render_source(source), encoding="utf-8")
        paths.append(path)
    return paths
