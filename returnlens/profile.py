"""The shop profile: what one shop's data looks like, as a file the shop edits, not code.

`returnlens.yml` at the landing root (or the file `RETURNLENS_PROFILE` names) says which
categories, countries, channels and currencies the shop has (closed: anything else is
quarantined; open: anything else loads and is listed in `marts.rpt_profile_values`), the shop's
limits (largest quantity, order total and refund a gate accepts, smallest list price), its return
window, the days it takes no orders, which sources it delivers, and the dialect of each delivery
(a Dutch Excel export: `;`, decimal comma, `dd-mm-yyyy`, cp1252). Without a file the built-in
defaults hold: open value sets, no limits beyond the contracts', a 30-day window, web events,
NPS, forecasts, suppliers and batches optional. `docs/profile.md` documents every key;
`profiles/demo.yml` is the demo shop's profile and the worked example.

The profile reaches every part of a run: the loader applies it to the contracts
(`shop_entities`), the gates fill their limits from it (`gate_parameters`) and dbt gets its
settings as vars (`dbt_vars`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from returnlens.ingest.contracts import ENTITIES, SOURCES, Entity, FileSpec

PROFILE_FILE = "returnlens.yml"
PROFILE_ENV = "RETURNLENS_PROFILE"
DOCS = "docs/profile.md"

# value set -> the contract columns it governs
VALUE_SET_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "category": (("products", "category"),),
    "country": (("customers", "country_code"), ("orders", "shipping_country")),
    "channel": (("orders", "channel"),),
    "currency": (("orders", "currency"),),
}
LIMITS = ("max_quantity", "max_order_total", "max_refund", "min_list_price", "max_list_price")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SOURCE_STATES = ("required", "optional", "absent")
CORE_SOURCES = ("shop", "returns")  # orders, order lines, products, customers; returns
DIALECT_KEYS = (
    "pattern",
    "format",
    "encoding",
    "delimiter",
    "decimal_separator",
    "thousands_separator",
    "date_format",
    "timestamp_format",
)
TOP_KEYS = (
    "version",
    "shop",
    "values",
    "limits",
    "return_window_days",
    "orders",
    "sources",
    "deliveries",
)


class _ProfileLoader(yaml.SafeLoader):
    """YAML 1.2 booleans only: `NO` (Norway), `ON`, `yes` stay text, as a country list needs."""


_ProfileLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class ProfileError(ValueError):
    """The shop profile cannot be used: the message names the file, the key and the fix."""


@dataclass(frozen=True)
class ValueSet:
    """The values a shop has for one kind of value (categories, countries, ...).

    closed: any other value is quarantined. open: any other value loads and is reported.
    """

    kind: str  # closed | open
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShopProfile:
    """One shop's profile (see the module docstring and docs/profile.md)."""

    path: Path | None = None  # None: the built-in defaults
    name: str = "my shop"
    reporting_currency: str = "EUR"
    values: dict[str, ValueSet] = field(
        default_factory=lambda: {k: ValueSet("open") for k in VALUE_SET_COLUMNS}
    )
    limits: dict[str, Decimal | None] = field(default_factory=lambda: dict.fromkeys(LIMITS))
    return_window_days: int = 30
    closed_weekdays: tuple[str, ...] = ()
    closed_dates: tuple[date, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)  # source -> required|optional|absent
    deliveries: dict[str, tuple[FileSpec, ...]] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Where a user changes a setting: the profile file, or where to create one."""
        return str(self.path) if self.path else f"{PROFILE_FILE} (none yet: see {DOCS})"

    def value_set(self, name: str) -> ValueSet:
        """The value set of `name` (currency: closed to the reporting currency by default;
        other currencies listed are converted by dbt with the exchange_rates source)."""
        if name == "currency" and name not in self._explicit_values:
            return ValueSet("closed", (self.reporting_currency,))
        return self.values[name]

    @property
    def _explicit_values(self) -> set[str]:
        return {k for k, v in self.values.items() if v.kind == "closed" or v.values}


def profile_path(landing_dir: Path) -> Path | None:
    """The profile in force: `$RETURNLENS_PROFILE`, else `returnlens.yml` at the landing root."""
    env = os.environ.get(PROFILE_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ProfileError(
                f"{PROFILE_ENV}={env}: no such file. Point it at the shop profile or unset it "
                f"(then {PROFILE_FILE} at the landing root is used); see {DOCS}."
            )
        return path.resolve()
    path = Path(landing_dir) / PROFILE_FILE
    return path if path.is_file() else None


def load_profile(landing_dir: Path) -> ShopProfile:
    """The profile for this landing folder (the built-in defaults when there is none)."""
    path = profile_path(landing_dir)
    return read_profile(path) if path else ShopProfile()


def read_profile(path: Path) -> ShopProfile:
    """Parse and check one profile file; every problem names the key and the fix."""
    try:
        # a SafeLoader (no Python objects), with YAML 1.2 booleans
        doc = yaml.load(Path(path).read_text(encoding="utf-8"), _ProfileLoader) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = str(exc).splitlines()[0]
        raise ProfileError(
            f"{path}: not a readable YAML shop profile ({problem}); see {DOCS}"
        ) from exc
    if not isinstance(doc, dict):
        raise ProfileError(f"{path}: the profile must be a mapping of keys; see {DOCS}")
    p = _Parser(Path(path))
    p.keys(doc, TOP_KEYS, "")
    if doc.get("version", 1) != 1:
        p.fail("version", "only version 1 is known")
    shop = p.mapping(doc, "shop", ("name", "reporting_currency"))
    currency = str(shop.get("reporting_currency", "EUR"))
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        p.fail("shop.reporting_currency", "must be an ISO 4217 code such as EUR, SEK or GBP")
    values = {k: ValueSet("open") for k in VALUE_SET_COLUMNS}
    for name, spec in p.mapping(doc, "values", tuple(VALUE_SET_COLUMNS)).items():
        values[name] = p.value_set(f"values.{name}", spec)
    for code in values["currency"].values:
        if len(code) != 3 or not code.isalpha() or not code.isupper():
            p.fail("values.currency", f"{code!r} is not an ISO 4217 code such as EUR, SEK or GBP")
    limits = {k: p.number(f"limits.{k}", v) for k, v in p.mapping(doc, "limits", LIMITS).items()}
    window = doc.get("return_window_days", 30)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 365:
        p.fail("return_window_days", "must be a whole number of days between 1 and 365")
    orders = p.mapping(doc, "orders", ("closed_weekdays", "closed_dates"))
    weekdays = tuple(
        str(d).lower() for d in p.sequence("orders.closed_weekdays", orders.get("closed_weekdays"))
    )
    for d in weekdays:
        if d not in WEEKDAYS:
            p.fail("orders.closed_weekdays", f"{d!r} is not one of {', '.join(WEEKDAYS)}")
    closed_dates = tuple(
        p.day("orders.closed_dates", d)
        for d in p.sequence("orders.closed_dates", orders.get("closed_dates"))
    )
    sources = {}
    for src, state in p.mapping(doc, "sources", SOURCES).items():
        if state not in SOURCE_STATES:
            p.fail(f"sources.{src}", f"must be one of {', '.join(SOURCE_STATES)}")
        if src in CORE_SOURCES and state != "required":
            p.fail(
                f"sources.{src}",
                "orders, products, customers and returns are what every mart is built from; "
                "this source is always required",
            )
        sources[src] = state
    entity_names = tuple(e.name for e in ENTITIES)
    deliveries = {
        name: tuple(
            p.file_spec(f"deliveries.{name}[{i}]", spec)
            for i, spec in enumerate(p.sequence(f"deliveries.{name}", specs))
        )
        for name, specs in p.mapping(doc, "deliveries", entity_names).items()
    }
    return ShopProfile(
        path=Path(path).resolve(),
        name=str(shop.get("name", "my shop")),
        reporting_currency=currency,
        values=values,
        limits={**dict.fromkeys(LIMITS), **limits},
        return_window_days=window,
        closed_weekdays=weekdays,
        closed_dates=closed_dates,
        sources=sources,
        deliveries=deliveries,
    )


class _Parser:
    """Small typed accessors over the YAML document that fail with the key's dotted path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> None:
        raise ProfileError(f"{self.path}: {key}: {problem}; see {DOCS}")

    def keys(self, doc: dict, known: tuple[str, ...], where: str) -> None:
        for k in doc:
            if k not in known:
                self.fail(f"{where}{k}", f"unknown key (known: {', '.join(known)})")

    def mapping(self, doc: dict, key: str, known: tuple[str, ...]) -> dict:
        value = doc.get(key) or {}
        if not isinstance(value, dict):
            self.fail(key, "must be a mapping")
        self.keys(value, known, f"{key}.")
        return value

    def sequence(self, key: str, value: Any) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, "must be a list")
        return value

    def value_set(self, key: str, spec: Any) -> ValueSet:
        if (
            not isinstance(spec, dict)
            or len(spec) != 1
            or next(iter(spec)) not in ("closed", "open")
        ):
            self.fail(key, "write `closed: [values]` or `open: [values]`")
        kind, values = next(iter(spec.items()))
        if not isinstance(values, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            self.fail(f"{key}.{kind}", "must be a list of values")
        if kind == "closed" and not values:
            self.fail(f"{key}.closed", "a closed set needs at least one value")
        return ValueSet(kind, tuple(str(v) for v in values))

    def number(self, key: str, value: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.fail(key, "must be a number (or empty for no limit)")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.fail(key, f"{value!r} is not a number")
        if not number.is_finite() or number < 0:
            self.fail(key, "must be a number of 0 or more")
        return number

    def day(self, key: str, value: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(key, f"{value!r} is not a date written YYYY-MM-DD")
        raise AssertionError  # unreachable: fail() raises

    def file_spec(self, key: str, spec: Any) -> FileSpec:
        if not isinstance(spec, dict):
            self.fail(key, "must be a mapping with pattern, format and the dialect keys")
        self.keys(spec, DIALECT_KEYS, f"{key}.")
        for needed in ("pattern", "format"):
            if not spec.get(needed):
                self.fail(f"{key}.{needed}", "is required")
        try:
            return FileSpec(**{k: spec[k] for k in DIALECT_KEYS if k in spec}, declared=True)
        except (TypeError, ValueError) as exc:
            self.fail(key, str(exc))
        raise AssertionError  # unreachable: fail() raises


def shop_entities(profile: ShopProfile) -> tuple[Entity, ...]:
    """The landing contracts as this shop's profile shapes them.

    Closed value sets become the allowed values of their columns (open ones lift the contract's
    set), `sources` makes a source required or optional, and `deliveries` replaces an entity's
    accepted files with the declared ones (each with its dialect).
    """
    allowed: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for name, columns in VALUE_SET_COLUMNS.items():
        vs = profile.value_set(name)
        for target in columns:
            allowed[target] = vs.values if vs.kind == "closed" else None
    shaped = []
    for e in ENTITIES:
        columns = tuple(
            dataclasses.replace(c, allowed=allowed[(e.name, c.name)])
            if (e.name, c.name) in allowed
            else c
            for c in e.columns
        )
        changes: dict[str, Any] = {"columns": columns}
        state = profile.sources.get(e.source)
        if state:
            changes["optional"] = state != "required"
        specs = profile.deliveries.get(e.name)
        if specs:
            main, *also = specs
            changes.update(
                pattern=main.pattern,
                format=main.format,
                encoding=main.encoding,
                delimiter=main.delimiter,
                decimal_separator=main.decimal_separator,
                thousands_separator=main.thousands_separator,
                date_format=main.date_format,
                timestamp_format=main.timestamp_format,
                dialect_declared=True,
                also=tuple(also),
            )
        shaped.append(dataclasses.replace(e, **changes))
    return tuple(shaped)


def landing_entities(landing_dir: Path) -> tuple[Entity, ...]:
    """The contracts as the profile of this landing folder shapes them."""
    return shop_entities(load_profile(landing_dir))


def optional_entities(profile: ShopProfile) -> tuple[str, ...]:
    """Entities this shop may deliver no file of (the run still publishes)."""
    return tuple(e.name for e in shop_entities(profile) if e.optional)


def gate_parameters(profile: ShopProfile) -> dict[str, Any]:
    """`{"$PARAMETER": "profile.<key>"}` values of the gate suites."""
    params: dict[str, Any] = {
        f"profile_{k}": (float(v) if v is not None else None) for k, v in profile.limits.items()
    }
    if params["profile_min_list_price"] is None:  # GX needs one bound of a between
        params["profile_min_list_price"] = 0.0
    # days from sale to return: the return window plus delivery and processing slack
    params["profile_max_return_lag_days"] = profile.return_window_days + 90
    params["profile_closed_weekdays"] = [WEEKDAYS.index(d) + 1 for d in profile.closed_weekdays]
    params["profile_closed_dates"] = [d.isoformat() for d in profile.closed_dates]
    return params


def dbt_vars(profile: ShopProfile) -> dict[str, Any]:
    """The profile's settings as dbt vars (`dbt build --vars`)."""
    return {
        "shop_name": profile.name,
        "reporting_currency": profile.reporting_currency,
        "return_window_days": profile.return_window_days,
        "optional_entities": list(optional_entities(profile)),
        "profile_value_sets": {
            name: {
                "kind": profile.value_set(name).kind,
                "values": list(profile.value_set(name).values),
            }
            for name in VALUE_SET_COLUMNS
        },
    }


def dbt_vars_json(profile: ShopProfile) -> str:
    """`dbt_vars` as the JSON string dbt's `--vars` takes."""
    return json.dumps(dbt_vars(profile), sort_keys=True)
