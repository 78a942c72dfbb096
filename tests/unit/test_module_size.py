"""No Python module over 500 lines without a reason in its docstring.

A module a newcomer must read end to end to find their way should stay short: past
`MAX_LINES` lines it is split by concern, or its module docstring says why it is not, in a line
starting `Size:` followed by the reason (e.g. `Size: one SQL template per mart; splitting it would
scatter the mart's logic`). The line counts are those `wc -l` reports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("returnlens", "orchestration", "dashboard")
MAX_LINES = 500
# a reason is a sentence, not the bare keyword
MIN_REASON_CHARS = 20


def _modules() -> list[Path]:
    return [
        p
        for package in PACKAGES
        for p in sorted((ROOT / package).rglob("*.py"))
        if ".venv" not in p.parts
    ]


def size_reason(source: str) -> str | None:
    """The reason a module's docstring gives for its size (the text after `Size:`), if any."""
    doc = ast.get_docstring(ast.parse(source)) or ""
    for line in doc.splitlines():
        text = line.strip()
        if text.startswith("Size:"):
            reason = text.removeprefix("Size:").strip()
            return reason if len(reason) >= MIN_REASON_CHARS else None
    return None


def oversized(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Modules over MAX_LINES lines whose docstring gives no reason, as `path: N lines`."""
    found = []
    for path in paths:
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_LINES and size_reason(source) is None:
            found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_size_reason_is_read_from_the_module_docstring():
    assert size_reason('"""Load.\n\nSize: one SQL pass, kept whole to read.\n"""\n') == (
        "one SQL pass, kept whole to read."
    )
    assert size_reason('"""Load.\n\nSize:\n"""\n') is None  # no reason given
    assert size_reason('"""Load."""\n# Size: a comment is not the docstring\n') is None
    assert size_reason("x = 1\n") is None


def test_oversized_flags_a_long_module_without_a_reason(tmp_path):
    body = "x = 1\n" * (MAX_LINES + 1)
    long_bare = tmp_path / "long_bare.py"
    long_bare.write_text('"""A module."""\n' + body)
    long_reasoned = tmp_path / "long_reasoned.py"
    long_reasoned.write_text(
        '"""A module.\n\nSize: generated table, one entry a line.\n"""\n' + body
    )
    short = tmp_path / "short.py"
    short.write_text('"""A module."""\n' + "x = 1\n" * (MAX_LINES - 1))
    assert oversized([long_bare, long_reasoned, short], tmp_path) == [
        f"long_bare.py: {MAX_LINES + 2} lines"
    ]


def test_no_module_over_500_lines_without_a_reason():
    found = oversized(_modules())
    assert not found, (
        f"modules over {MAX_LINES} lines: split them by concern, or state why not in a line "
        "of the module docstring starting 'Size:'\n" + "\n".join(found)
    )
