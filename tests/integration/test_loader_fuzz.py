"""Property-based fuzzing of the loader with generated malformed deliveries (Hypothesis).

Each example writes one to three files of an entity into a fresh landing folder, in a random
dialect (delimiter, quoting, line ends, encoding, BOM), with random cell text (Excel artefacts,
Dutch numbers, odd dates, separators and quotes inside values), random file names (glob
characters, spaces, non-ASCII) and sometimes truncated, then runs the real loader into a real
DuckDB database and asserts, independently of the loader:

- no crash: the loader returns;
- every file under the landing folder is accounted for in `raw.load_audit`;
- conservation: for a loaded file, rows in = rows in raw + rows in quarantine, and rows in equals
  the records of the file as Python's csv/json modules read it under the declared dialect;
- no wrong value: every value in raw equals the file's text under the dialect the audit says it
  was read with (`raw.load_audit.dialect`: the contracts' default, comma, double quote, UTF-8,
  optional BOM, or what was detected in an undeclared file: encoding, delimiter, decimal and
  thousands separators, timestamp format): text columns byte for byte, integers and decimals
  exactly (no rounding; grouping only in groups of three), timestamps as that format reads them.

`make test` runs 1,000 examples with a fixed seed (derandomised, so CI is stable); set
`RETURNLENS_FUZZ_EXAMPLES=20000` (e.g. nightly) for a longer, randomised hunt.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returnlens.ingest.contracts import SOURCES, entity
from returnlens.ingest.loader import account_landing, load_entity

pytestmark = pytest.mark.integration

_LONG = int(os.environ.get("RETURNLENS_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_LONG or 400,
    derandomize=not _LONG,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_SMALL = settings(FUZZ, max_examples=_LONG or 200)

ORDER_LINES = entity("order_lines")
WEB_EVENTS = entity("web_events")
NPS = entity("nps_responses")

# ------------------------------------------------------------------------------ cell text
ARTEFACTS = (
    "",
    " ",
    '"',
    '""',
    ",",
    ";",
    "\n",
    "\r\n",
    "a,b",
    'say "hi"',
    "1.253",
    "1.253,50",
    "1,5",
    "12,50",
    "1.5",
    "12.505",
    "12.5",
    "0012",
    "-0",
    "+5",
    " 7 ",
    "4.92E+11",
    "1e3",
    "NaN",
    "inf",
    "NULL",
    "99999999999999999999",
    "2147483648",
    '="O0003848-1"',
    "03-04-2026",
    "2026-04-03",
    "2026-04-03 10:00:00",
    "2026-04-03T10:00:00Z",
    "2026-04-03 10:00:00+02:00",
    "31/12/2026 23:59",
    "€",
    "é",
    "\t",
    "\x00",
    "x" * 300,
)
text_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
cell = st.one_of(
    st.sampled_from(ARTEFACTS),
    text_cell,
    st.integers(-(10**12), 10**12).map(str),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ).map(str),
)


def valid_cell(col) -> st.SearchStrategy[str]:
    """Text that satisfies the contract column (so clean files can be checked to load)."""
    if col.type == "integer":
        return st.integers(1, 50).map(str)
    if col.type.startswith("decimal"):
        return st.integers(0, 99999).map(lambda c: f"{c // 100}.{c % 100:02d}")
    if col.type == "timestamp":
        return st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(
            lambda d: d.replace(microsecond=0).isoformat(sep=" ")
        )
    if col.allowed:
        return st.sampled_from(col.allowed)
    return st.text(alphabet="ABCDEFGHJK0123456789-", min_size=1, max_size=8)


# ------------------------------------------------------------------------------ file names
name_part = st.text(alphabet=st.sampled_from(list("ab01 _-.[]*?{}!é€'")), min_size=0, max_size=8)


@st.composite
def csv_delivery(draw, ent, prefix: str, ext: str = ".csv"):
    """(file name, bytes) of one CSV delivery of `ent`, in a random dialect, maybe broken."""
    names = [c.name for c in ent.columns]
    header = draw(st.permutations(names))
    if draw(st.booleans()):  # optional columns may be left out
        header = [h for h in header if ent.column(h).required or draw(st.booleans())]
    clean = draw(st.integers(0, 3)) == 0  # a valid file: every row must load
    if draw(st.integers(0, 9)) == 0:  # an extra column (a repeated or empty name on dirty files)
        header = [
            *header,
            draw(st.sampled_from(["note", "Extra Col", *([] if clean else ["sku", ""])])),
        ]
    odd = not clean and draw(st.integers(0, 2)) == 0  # a dialect other than the declared one
    dirt = 0.0 if clean else draw(st.sampled_from([0.05, 0.2, 0.5, 1.0]))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = []
        for h in header:
            good = draw(valid_cell(ent.column(h))) if h in names else "x"
            row.append(draw(cell) if dirt and draw(st.floats(0, 1)) < dirt else good)
        if not clean and draw(st.integers(0, 12)) == 0:  # ragged row
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(cell, max_size=2))
        rows.append(row)
    delimiter = draw(st.sampled_from([";", "\t", "|", ","])) if odd else ","
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_MINIMAL]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    if odd and draw(st.integers(0, 3)) == 0:  # trailing delimiter on data rows only
        lines = text.split(terminator)
        text = terminator.join([lines[0], *[ln + delimiter if ln else ln for ln in lines[1:]]])
    encoding = (
        draw(st.sampled_from(["utf-8-sig", "cp1252", "latin-1", "utf-16"])) if odd else "utf-8"
    )
    data = text.encode(encoding, errors="replace")
    if not clean and draw(st.integers(0, 10)) == 0:  # cut off anywhere
        data = data[: draw(st.integers(0, len(data)))]
    if not clean and draw(st.integers(0, 20)) == 0:  # Excel bytes under a .csv name
        data = b"PK\x03\x04" + data
    name = prefix + draw(name_part) + ext
    return name, data, clean and bool(rows)


@st.composite
def jsonl_delivery(draw, ent, prefix: str):
    names = [c.name for c in ent.columns]
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        obj = {}
        for n in names:
            kind = draw(st.integers(0, 9))
            if kind == 0:
                continue  # key absent
            if kind == 1:
                obj[n] = None
            elif kind == 2:
                obj[n] = draw(st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False)))
            elif kind <= 5:
                obj[n] = draw(cell)
            else:
                obj[n] = draw(valid_cell(ent.column(n)))
        line = json.dumps(obj, ensure_ascii=draw(st.booleans()))
        if draw(st.integers(0, 15)) == 0:
            line = line[: draw(st.integers(0, len(line)))]  # broken object
        lines.append(line)
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    data = (terminator.join(lines) + (terminator if draw(st.booleans()) else "")).encode()
    if draw(st.integers(0, 10)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return prefix + draw(name_part) + ".jsonl", data


xlsx_cell = st.one_of(
    cell.map(lambda v: re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", v)),  # Excel refuses these
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.none(),
)


@st.composite
def xlsx_delivery(draw, ent, prefix: str):
    """(file name, bytes) of an Excel workbook: typed cells, as a survey tool exports them."""
    from openpyxl import Workbook

    names = [c.name for c in ent.columns]
    header = draw(st.permutations(names))
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for _ in range(draw(st.integers(0, 5))):
        ws.append(
            [
                draw(xlsx_cell) if draw(st.integers(0, 2)) == 0 else draw(valid_cell(ent.column(h)))
                for h in header
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if draw(st.integers(0, 10)) == 0:  # by a share: a workbook's size varies with its timestamp
        data = data[: int(len(data) * draw(st.floats(0, 1)))]
    return prefix + draw(name_part) + ".xlsx", data


# ------------------------------------------------------------------------------ the reference
def reference_csv(data: bytes, dialect: dict | None = None) -> list[list[str]] | None:
    """Records of a CSV file under its dialect (default: comma, '"', UTF-8, optional BOM; or
    the encoding and delimiter the audit says were detected).

    None when the file is not valid under that dialect. Blank lines are not records.
    """
    dialect = dialect or {}
    encoding = dialect.get("encoding") or "utf-8"
    if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    try:
        delimiter = dialect.get("delimiter") or ","
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    return [r for r in rows if r != []]


def reference_jsonl(data: bytes) -> list[dict | None] | None:
    """Objects of a JSON lines file (None for a line that is not an object)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    out: list[dict | None] = []
    for line in text.split(
        "\n"
    ):  # not splitlines(): U+0085 or U+2028 inside a value is no line end
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            out.append(None)
            continue
        out.append(obj if isinstance(obj, dict) else None)
    return out


def reference_xlsx(data: bytes) -> list | None:
    """Header and records of the first sheet as openpyxl reads them (cells as their text)."""
    from openpyxl import load_workbook

    try:
        ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        rows = [[_xlsx_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
    except Exception:
        return None
    return [r for r in rows if any(v is not None for v in r)] or None


def _xlsx_text(v) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
DEC_TEXT = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")


def _ts(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t


def plain_number(text: str, dialect: dict | None) -> str:
    """A number's text with the dialect's separators made plain ('.' decimals, no grouping);
    text that is not a number of the dialect is returned so that it fails the number check."""
    dec = (dialect or {}).get("decimal_separator") or "."
    group = (dialect or {}).get("thousands_separator")
    if dec != "." and "." in text and group != ".":
        return "not a number"
    if group:
        whole = text.strip().lstrip("+-").split(dec)[0]
        grouped = rf"[0-9]{{1,3}}({re.escape(group)}[0-9]{{3}})+"
        if group in whole and not re.fullmatch(grouped, whole):
            return "not a number"
        text = text.replace(group, "")
    return text.replace(dec, ".") if dec != "." else text


def assert_value_matches(col, text, value, where: str, dialect: dict | None = None) -> None:
    """The loaded `value` is exactly what `text` says under the file's dialect."""
    if text is not None and col.type != "varchar" and col.type != "timestamp":
        text = plain_number(text, dialect)
    if value is None:
        assert text is None or text == "", f"{where}: {col.name} loaded null from {text!r}"
        return
    assert text is not None, f"{where}: {col.name} loaded {value!r} from an absent value"
    if col.type == "varchar":
        assert value == text, f"{where}: {col.name} loaded {value!r} from {text!r}"
    elif col.type in ("integer", "bigint"):
        assert INT_TEXT.match(text), f"{where}: {col.name} loaded {value!r} from {text!r}"
        assert int(text) == value, f"{where}: {col.name} loaded {value!r} from {text!r}"
    elif col.type.startswith("decimal"):
        scale = int(col.type.rstrip(")").split(",")[1])
        assert DEC_TEXT.match(text), f"{where}: {col.name} loaded {value!r} from {text!r}"
        exact = Decimal(text.strip())
        assert exact == value, f"{where}: {col.name} loaded {value!r} from {text!r}"
        assert -exact.as_tuple().exponent <= scale or exact == exact.quantize(
            Decimal(1).scaleb(-scale)
        ), f"{where}: {col.name} rounded {text!r}"
    elif col.type == "timestamp":
        fmt = (dialect or {}).get("timestamp_format")
        try:
            expected = datetime.strptime(text, fmt) if fmt else _ts(text)
        except ValueError:
            expected = None
        assert expected is not None, f"{where}: {col.name} loaded {value!r} from {text!r}"
        assert expected == value, f"{where}: {col.name} loaded {value!r} from {text!r}"
    elif col.type == "double":
        try:
            assert float(text) == value, f"{where}: {col.name} loaded {value!r} from {text!r}"
        except ValueError:
            pytest.fail(f"{where}: {col.name} loaded {value!r} from {text!r}")
    else:  # pragma: no cover - a new contract type needs a rule here
        pytest.fail(f"no reference rule for type {col.type}")


# ------------------------------------------------------------------------------ the harness
def _write(landing: Path, source: str, files: list[tuple]) -> tuple[list[Path], set[Path]]:
    """Write the deliveries; returns their paths and those of files that must load whole."""
    for src in SOURCES:
        (landing / src).mkdir(parents=True, exist_ok=True)
    paths, must_load = [], set()
    for name, data, *clean in files:
        path = landing / source / name
        if path in paths:
            continue  # the same drawn name twice: the later delivery would overwrite it
        path.write_bytes(data)
        paths.append(path)
        if clean and clean[0]:
            must_load.add(path)
    return paths, must_load


def _audited(con, landing: Path, path: Path) -> list[tuple]:
    """Audit rows of a file, whether the audit names it absolutely or relative to landing."""
    names = [str(path), str(path.relative_to(landing)), path.relative_to(landing).as_posix()]
    return con.execute(
        "select status, rows_in, rows_loaded, rows_quarantined, source_file, dialect "
        "from raw.load_audit "
        "where source_file in (?, ?, ?) order by finished_at desc",
        names,
    ).fetchall()


def _check(con, landing: Path, ent, paths: list[Path], reference, must_load=frozenset()) -> None:
    colmap = {c.name: c for c in ent.columns}
    for path in paths:
        audit = _audited(con, landing, path)
        assert audit, f"{path.name!r} is not accounted for in raw.load_audit"
        status, rows_in, rows_loaded, rows_quarantined, source_file, dialect = audit[0]
        dialect = json.loads(dialect) if dialect else None
        if path in must_load:  # a valid file: loaded whole, only duplicate keys set aside
            assert status == "loaded", f"{path.name!r}: a valid file was {status}"
            odd = con.execute(
                "select reason from raw.quarantine_rows where source_file = ? "
                "and not starts_with(reason, 'duplicate key')",
                [source_file],
            ).fetchall()
            assert odd == [], f"{path.name!r}: valid rows quarantined: {odd}"
        in_raw = con.execute(
            f"select count(*) from {ent.table} where _source_file = ?", [source_file]
        ).fetchall()[0][0]
        in_q = con.execute(
            "select count(*) from raw.quarantine_rows where entity = ? and source_file = ?",
            [ent.name, source_file],
        ).fetchall()[0][0]
        if status != "loaded":
            assert in_raw == 0, f"{path.name!r}: {status} but {in_raw} rows in raw"
            continue
        assert (rows_loaded, rows_quarantined) == (in_raw, in_q), path.name
        assert rows_in == in_raw + in_q, f"{path.name!r}: conservation"
        records = (
            reference(path.read_bytes(), dialect)
            if reference is reference_csv
            else reference(path.read_bytes())
        )
        assert records is not None, (
            f"{path.name!r} was loaded although it is not valid under the declared dialect"
        )
        if reference is not reference_jsonl:
            header, body = records[0], records[1:]
            assert rows_in == len(body), f"{path.name!r}: {rows_in} rows in, file has {len(body)}"
            if len(set(header)) != len(header):
                assert in_raw == 0, f"{path.name!r}: loaded with duplicate header names"
        else:
            body = records
            assert rows_in == len(body), f"{path.name!r}: {rows_in} rows in, file has {len(body)}"
        cols = [c.name for c in ent.columns]
        loaded = con.execute(
            f"select _file_row_number, {', '.join(cols)} from {ent.table} "
            "where _source_file = ? order by 1",
            [source_file],
        ).fetchall()
        for row_number, *values in loaded:
            where = f"{path.name!r} row {row_number}"
            rec = body[row_number - 1]
            if reference is not reference_jsonl:
                if len(rec) == len(header) + 1 and rec[-1] == "":
                    rec = rec[:-1]  # a trailing delimiter on a data row (Excel): an empty field
                assert len(rec) == len(header), f"{where}: loaded from a ragged record {rec!r}"
                texts = dict(zip(header, rec, strict=True))
            else:
                assert rec is not None, f"{where}: loaded from a line that is no JSON object"
                texts = {k: _json_text(v) for k, v in rec.items()}
            for name, value in zip(cols, values, strict=True):
                assert_value_matches(colmap[name], texts.get(name), value, where, dialect)


def _json_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return v
    return json.dumps(v)


def _run(ent, files, reference):
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        paths, must_load = _write(landing, ent.source, files)
        con = duckdb.connect()
        try:
            # the fuzzed entity, and the accounting of every other file (as load_all does)
            load_entity(con, ent, landing)
            account_landing(con, landing)
            _check(con, landing, ent, paths, reference, must_load)
        finally:
            con.close()


@FUZZ
@given(files=st.lists(csv_delivery(ORDER_LINES, "order_lines_"), min_size=1, max_size=3))
def test_fuzz_csv_deliveries_load_exact_values_and_conserve_rows(files):
    _run(ORDER_LINES, files, reference_csv)


@FUZZ_SMALL
@given(files=st.lists(jsonl_delivery(WEB_EVENTS, "events_"), min_size=1, max_size=3))
def test_fuzz_jsonl_deliveries_load_exact_values_and_conserve_rows(files):
    _run(WEB_EVENTS, files, reference_jsonl)


@FUZZ_SMALL
@given(files=st.lists(csv_delivery(NPS, "nps_"), min_size=1, max_size=2))
def test_fuzz_survey_csv_with_timestamps_loads_exact_values(files):
    _run(NPS, files, reference_csv)


@FUZZ_SMALL
@given(files=st.lists(xlsx_delivery(NPS, "nps_"), min_size=1, max_size=2))
def test_fuzz_survey_excel_workbooks_load_exact_values(files):
    _run(NPS, files, reference_xlsx)


def test_fuzz_reference_rejects_rounding():
    """The reference itself: a rounded or separator-stripped value never passes as exact."""
    dec = ORDER_LINES.column("unit_price_eur")
    integer = ORDER_LINES.column("quantity")
    with pytest.raises(AssertionError):
        assert_value_matches(dec, "12.505", Decimal("12.51"), "ref")
    with pytest.raises(AssertionError):
        assert_value_matches(integer, "1.253", 1, "ref")
    with pytest.raises(AssertionError):
        assert_value_matches(integer, "1.5", 2, "ref")
    assert_value_matches(dec, "12.5", Decimal("12.50"), "ref")
    assert_value_matches(integer, "0012", 12, "ref")
    dutch = {"decimal_separator": ",", "thousands_separator": "."}
    assert_value_matches(dec, "1.253,50", Decimal("1253.50"), "ref", dutch)
    for text, wrong in (("12,50", Decimal("1250")), ("1.25", Decimal("125")), ("1.2.3", 123)):
        with pytest.raises(AssertionError):
            assert_value_matches(dec, text, wrong, "ref", dutch)
    with pytest.raises(AssertionError):  # 1,250 read as 1250 under a decimal comma
        assert_value_matches(dec, "1,250", Decimal("1250"), "ref", {"decimal_separator": ","})
    with pytest.raises(InvalidOperation):
        Decimal("1,5")
