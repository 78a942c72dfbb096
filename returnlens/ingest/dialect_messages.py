"""The words of dialect detection: how a setting to declare is written, and the messages of
an encoding that cannot be detected. Shared by the readers (which find a late non-UTF-8 byte)
and the detection itself (`returnlens.ingest.dialect`)."""

from __future__ import annotations

import json
import re

from returnlens.ingest.contracts import Entity

UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def setting(entity: Entity, key: str, value: str | None) -> str:
    """`key: "value"` as a user writes it in the profile."""
    return f"`{key}: {json.dumps(value)}`"


def where_to_declare(entity: Entity) -> str:
    return f"under deliveries.{entity.name} in returnlens.yml (docs/profile.md)"


def mixed_message(entity: Entity, utf8_line: int, other_line: int | None) -> str:
    where = f" (line {other_line})" if other_line else ""
    return (
        f"the file mixes UTF-8 characters (line {utf8_line}) with bytes that are not UTF-8"
        f"{where}: it is in no single encoding, so none is detected. Export it again as UTF-8; "
        f"if it is Windows-1252 text, declare {setting(entity, 'encoding', 'cp1252')} "
        f"{where_to_declare(entity)}"
    )


def undefined_message(entity: Entity, byte: int, offset: int, line: int) -> str:
    return (
        f"the file is not valid UTF-8 and not Windows-1252 either (byte 0x{byte:02X} at byte "
        f"offset {offset}, line {line}, is no Windows-1252 character), so its encoding cannot be "
        f"detected: export it as UTF-8, or declare its encoding, e.g. "
        f"{setting(entity, 'encoding', 'latin-1')} (utf-8, cp1252, latin-1 or utf-16) "
        f"{where_to_declare(entity)}"
    )
