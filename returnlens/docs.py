"""Render `docs/contracts/<source>.md` from the landing contracts (one source of truth)."""

from __future__ import annotations

from pathlib import Path

from returnlens.config import PROJECT_ROOT
from returnlens.ingest.contracts import SOURCES, Entity, FileSpec, entities_of
from returnlens.quality.availability import MARTS_NEEDING, not_available_message

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
            _availability_text(e),
            *(
                f"- Files: `{source}/{spec.pattern}` ({_format_text(spec)})"
                for spec in e.file_specs
            ),
            f"- Key: `{', '.join(e.key)}` (unique across all files of the entity)",
            "- Timestamps are UTC, `YYYY-MM-DD HH:MM:SS`; dates `YYYY-MM-DD`; money in EUR "
            "(unless a delivery above declares other formats).",
            "- Numbers must fit their type exactly: integers are digits with an optional sign; "
            "`decimal(p,s)` has at most s decimals; no thousands separators unless the delivery "
            "declares them. A value that does not fit is quarantined, never rounded; so are "
            'values Excel exported as `="…"` or in scientific notation (`4.92E+11`), and postal '
            "codes that lost their leading zero (`1067` for a German `01067`).",
            "- Unknown extra columns are kept, as a JSON object in `_extra`, and named in the "
            "load audit; a missing or renamed required column fails the file.",
            "",
            "| column | type | required | rule | meaning |",
            "|---|---|---|---|---|",
        ]
        for c in e.columns:
            rules = []
            if c.allowed:
                rules.append("one of " + ", ".join(f"`{v}`" for v in c.allowed))
            if c.min_value is not None:
                rules.append(f"{'>' if c.min_exclusive else '≥'} {c.min_value:g}")
            if c.pii:
                rules.append("PII: raw only")
            lines.append(
                f"| `{c.name}` | {c.type} | {'yes' if c.required else 'no'} | "
                f"{'; '.join(rules)} | {c.description} |"
            )
        lines.append("")
    lines += [
        "## Columns the loader adds to every raw table",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        "| `_source_file` | varchar | Landing file the row was loaded from. |",
        "| `_file_row_number` | bigint | Row number within that file (from 1, header excluded). |",
        "| `_loaded_at` | timestamp | When the loader first wrote the row with its present "
        "content (UTC); a re-delivery keeps it for unchanged rows (changed and removed ones: "
        "`raw.retracted_rows`). |",
        "| `_extra` | varchar | JSON object of columns the contract does not know; null if none. |",
        "",
    ]
    return "\n".join(lines)


def _availability_text(e: Entity) -> str:
    """Whether a shop must deliver the entity, and what happens when it does not."""
    if not e.optional:
        return (
            "- **Required.** A run without any file of it fails the gate on "
            f"`raw.{e.name}` with a message naming the missing source."
        )
    marts = ", ".join(f"`marts.{m}`" for m in MARTS_NEEDING.get(e.name, ()))
    published = (
        f"every mart that does not need it; {marts} are published empty and "
        if marts
        else "every mart (none needs it), and "
    )
    return (
        "- **Optional.** A shop may deliver no file of it at all: the run still publishes "
        f"{published}"
        f'`marts.rpt_source_availability` and the dashboard say "{not_available_message(e.name)}". '
        "Its gates pass with that note; once a file is delivered, it is checked as usual."
    )


DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _dialect_text(spec: FileSpec) -> str:
    """The number and date conventions of a delivery, when they differ from the defaults."""
    parts = []
    if not spec.plain_numbers:
        grouping = (
            f" and `{spec.thousands_separator}` thousands separators"
            if spec.thousands_separator
            else ""
        )
        parts.append(f"numbers with `{spec.decimal_separator}` decimals{grouping}")
    if spec.date_format:
        parts.append(f"dates `{spec.date_format}`")
    if spec.timestamp_format:
        parts.append(f"timestamps `{spec.timestamp_format}`")
    return "".join(f", {p}" for p in parts)


def _format_text(spec: FileSpec) -> str:
    if spec.format == "csv":
        delimiter = DELIMITER_NAMES.get(spec.delimiter, repr(spec.delimiter))
        return (
            f'CSV, {spec.encoding.upper()}, {delimiter}-separated, `"` quotes, header row, '
            f"empty field = null{_dialect_text(spec)}"
        )
    if spec.format == "jsonl":
        return (
            f"JSON lines, {spec.encoding.upper()}, one object per line, missing key = null"
            f"{_dialect_text(spec)}"
        )
    if spec.format == "xlsx":
        return f"Excel workbook, first sheet, header row, empty cell = null{_dialect_text(spec)}"
    return (
        "Parquet, columns of the contract's types or text; a timestamp with time zone is read "
        "as UTC; a column of another type fails the file"
    )


def write_contract_docs(out_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """Write one markdown file per source; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in SOURCES:
        path = out_dir / f"{source}.md"
        path.write_text(render_source(source), encoding="utf-8")
        paths.append(path)
    return paths
