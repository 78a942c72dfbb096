"""Configuration, read from environment variables in one place, with embedded defaults."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The salt earlier versions used when RETURNLENS_PII_SALT was unset. It is public (it was in
# this repository), so customer keys made with it can be reversed by enumerating ids: it is
# accepted only for the generated demo shop, never for real data.
DEMO_PII_SALT = "returnlens-demo-salt"
MIN_PII_SALT_LENGTH = 16
# The demo generator writes this file at the landing root; real deliveries never do.
DEMO_MARKER = "ground_truth.json"


# The memory budget of a whole run (the Dagster process, the dbt subprocess, every DuckDB
# database they open), and what of it is left to Python: measured at scale 6.7, the Dagster
# process with dagster, dbt and GX imported holds ~0.55 GiB and the dbt subprocess ~0.3 GiB
# before DuckDB allocates anything; DuckDB itself overshoots its memory_limit by up to ~20 %.
DEFAULT_MEMORY_BUDGET = "4GiB"
PYTHON_HEADROOM = 1 << 30
DUCKDB_SHARE = 0.8
MIN_DUCKDB_LIMIT = 4 << 20
BYTES_PER_DUCKDB_THREAD = 1 << 30  # DuckDB's guidance: at least 1-4 GB per thread for joins
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9}
_UNITS |= {"gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 1 << 10, "mib": 1 << 20}
_UNITS |= {"gib": 1 << 30, "tib": 1 << 40}


class SettingError(ValueError):
    """A setting has a value Returnlens cannot use; the message names the variable."""


def parse_bytes(text: str, var: str) -> int:
    """Bytes of a size such as `4GiB`, `1.5 GiB`, `3000MB` or `4294967296` (`var` names the
    setting in the error)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text or "")
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise SettingError(f"{var}={text!r} is not a size: write it like 4GiB, 1.5GiB or 3000MB.")
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: int) -> str:
    """`4.0GiB`, `512.0MiB`: how sizes are shown in messages and handed to DuckDB."""
    return f"{n / (1 << 30):.1f}GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f}MiB"


class PiiSaltError(RuntimeError):
    """The PII salt is unusable (too short, the public demo salt on real data, unreadable)."""


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Paths and knobs of one Returnlens installation."""

    data_dir: Path
    landing_dir: Path
    warehouse: Path
    serving: Path
    reports_dir: Path
    pii_salt_file: Path
    memory_budget: int  # bytes, RETURNLENS_MEMORY_BUDGET: the whole run's process tree
    duckdb_memory_limit: str  # per DuckDB database; derived from the budget unless set
    duckdb_threads: int  # per DuckDB database; derived from the budget unless set
    spill_dir: Path  # DuckDB's temp_directory: where operators spill when over the limit
    publish_parquet: bool

    @property
    def pii_salt(self) -> str:
        """The salt of the customer hash (read, or generated on first use; see `pii_salt`)."""
        return pii_salt(self)


def settings() -> Settings:
    """Read the settings from the environment (call again after changing env vars)."""
    data_dir = _path("RETURNLENS_DATA_DIR", PROJECT_ROOT / "data")
    budget = parse_bytes(
        os.environ.get("RETURNLENS_MEMORY_BUDGET") or DEFAULT_MEMORY_BUDGET,
        "RETURNLENS_MEMORY_BUDGET",
    )
    limit, threads = duckdb_share(budget)
    return Settings(
        data_dir=data_dir,
        landing_dir=_path("RETURNLENS_LANDING_DIR", data_dir / "landing"),
        warehouse=_path("RETURNLENS_WAREHOUSE", data_dir / "warehouse.duckdb"),
        serving=_path("RETURNLENS_SERVING", data_dir / "serving.duckdb"),
        reports_dir=_path("RETURNLENS_REPORTS_DIR", data_dir / "reports"),
        pii_salt_file=_path("RETURNLENS_PII_SALT_FILE", data_dir / "secrets" / "pii_salt"),
        memory_budget=budget,
        duckdb_memory_limit=os.environ.get("RETURNLENS_DUCKDB_MEMORY_LIMIT") or f"{limit >> 20}MiB",
        duckdb_threads=int(os.environ.get("RETURNLENS_DUCKDB_THREADS") or threads),
        spill_dir=_path("RETURNLENS_SPILL_DIR", data_dir / "spill"),
        publish_parquet=os.environ.get("RETURNLENS_PUBLISH_PARQUET", "1")
        not in ("0", "false", "no"),
    )


def duckdb_share(budget: int) -> tuple[int, int]:
    """DuckDB's memory_limit and threads per database for a run's memory budget.

    One DuckDB database works at a time in a run (the loader, then dbt's, then the gates', the
    publish's), so each may have what Python leaves: 80 % of (budget - 1 GiB), but at least a
    quarter of the budget. One thread per GiB of that, at most one per core.
    """
    limit = max(int((budget - PYTHON_HEADROOM) * DUCKDB_SHARE), budget // 4, MIN_DUCKDB_LIMIT)
    threads = max(1, min(os.cpu_count() or 1, limit // BYTES_PER_DUCKDB_THREAD))
    return limit, threads


def is_demo_landing(landing_dir: Path) -> bool:
    """True when the landing zone was written by the demo generator (`returnlens generate`)."""
    return (landing_dir / DEMO_MARKER).is_file()


def pii_salt(cfg: Settings | None = None) -> str:
    """The salt of the customer hash: `RETURNLENS_PII_SALT` when set, else the installation's.

    Without the variable, a random 256-bit salt is generated on first use and kept in
    `cfg.pii_salt_file` (default `<data dir>/secrets/pii_salt`, mode 0600, outside the
    repository); every later call, in any process, reads the same file. The public demo salt
    is refused unless the landing zone is the generated demo shop; salts shorter than 16
    characters are refused (keys made with a guessable salt can be reversed).
    """
    cfg = cfg or settings()
    value = os.environ.get("RETURNLENS_PII_SALT")
    if value is None:
        return _installation_salt(cfg.pii_salt_file)
    if value == DEMO_PII_SALT:
        if is_demo_landing(cfg.landing_dir):
            return value
        raise PiiSaltError(
            "RETURNLENS_PII_SALT is the public demo salt, and the landing zone "
            f"{cfg.landing_dir} is not the generated demo shop: customer keys made with it can "
            "be reversed by anyone. Unset RETURNLENS_PII_SALT (Returnlens then generates a "
            f"private salt in {cfg.pii_salt_file}) or set it to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`; see docs/security.md."
        )
    if len(value) < MIN_PII_SALT_LENGTH:
        raise PiiSaltError(
            f"RETURNLENS_PII_SALT is shorter than {MIN_PII_SALT_LENGTH} characters: customer "
            "keys made with a short salt can be reversed by trying salts. Set a long random "
            "value (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`) or unset "
            "it to use the installation's generated salt; see docs/security.md."
        )
    return value


def _installation_salt(path: Path) -> str:
    """Read the salt file, creating it (atomically, 0600) with a random salt if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            # link() fails if another process created the file first: then its salt wins
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PiiSaltError(
            f"cannot read the PII salt file {path}: {exc.strerror}. Restore it from your backup "
            "(a new salt changes every customer key); see docs/security.md."
        ) from exc
    if len(value) < MIN_PII_SALT_LENGTH:
        raise PiiSaltError(
            f"the PII salt file {path} holds fewer than {MIN_PII_SALT_LENGTH} characters. "
            "Restore it from your backup, or delete it to generate a new salt (this changes "
            "every customer key); see docs/security.md."
        )
    return value


@contextlib.contextmanager
def environment(names: Iterable[str], **values: str) -> Iterator[None]:
    """Unset every variable of `names`, set `values` (each one of `names`) for the block, and
    restore all of `names` as they were afterwards, also when the block fails."""
    names = tuple(names)
    assert set(values) <= set(names), f"{sorted(set(values) - set(names))} not restored"
    saved = {k: os.environ.get(k) for k in names}
    for k in names:
        os.environ.pop(k, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
