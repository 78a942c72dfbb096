"""Landing files' checksums and fingerprints (`raw.landing_fingerprints`): what tells the
loader a file is unchanged without reading it (size, mtime and ctime as when last hashed), and
the checksum that identifies its content when it may have changed (returnlens/ingest/loader.py
explains how a load uses them)."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import blake3
import duckdb

from returnlens.ingest.raw_tables import utc_now

# A file's checksum names its algorithm: "blake3:<hex>". Warehouses written before hold bare
# SHA-256 digests; a file is compared with the digest of the algorithm stored for it, so an
# unchanged file is not reloaded after the upgrade (measured on 1,170 MB of JSON lines: SHA-256
# 0.65 s CPU, BLAKE3 0.19 s, the read alone 0.08 s).
BLAKE3 = "blake3:"


def file_checksum(path: Path, like: str | None = None) -> str:
    """BLAKE3 of a file ("blake3:<hex>"), read in chunks; `like`: a checksum stored earlier, in
    whose algorithm to compute it (an untagged one is a SHA-256 digest, bare hex)."""
    legacy = like is not None and not like.startswith(BLAKE3)
    digest = hashlib.sha256() if legacy else blake3.blake3()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while size := fh.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest() if legacy else BLAKE3 + digest.hexdigest()


# A fingerprint is trusted only for a file last changed this long before it was hashed: a file
# rewritten within the file system's timestamp granularity (coarse kernel clock, 2 s on FAT and
# some network shares) after the hash could keep its size and times ("racy" files, as in git).
RACY_MARGIN_NS = 2_000_000_000


def known_fingerprints(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, tuple]:
    """(size, mtime_ns, ctime_ns, checksum, hashed_at_ns) of each file as last hashed."""
    rows = con.execute(
        "select source_file, size_bytes, mtime_ns, ctime_ns, checksum, hashed_ns "
        "from raw.landing_fingerprints where source_file in (select unnest(?::varchar[]))",
        [names],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def remember_fingerprints(con: duckdb.DuckDBPyConnection, rows: list[list]) -> None:
    """Store the fingerprints of the files hashed in this run (one row per file)."""
    if not rows:
        return
    con.execute("begin transaction")
    try:
        con.execute(
            "delete from raw.landing_fingerprints "
            "where source_file in (select unnest(?::varchar[]))",
            [[r[0] for r in rows]],
        )
        con.executemany(
            "insert into raw.landing_fingerprints "
            "(source_file, size_bytes, mtime_ns, ctime_ns, checksum, hashed_ns, hashed_at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [[*r, utc_now()] for r in rows],
        )
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
