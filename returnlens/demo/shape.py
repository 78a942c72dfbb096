"""The shape of the shop the generator writes: the demo's, or the one a shop profile describes.

`Shape()` is the demo shop (five categories, NL/BE/DE, web/app/marketplace, EUR, no limits beyond
the demo's own). `Shape.from_profile(path)` reads a shop profile (`returnlens.yml`, see
`returnlens.profile`) and keeps the demo's world model underneath: each of the profile's
categories and channels is written under its own name and behaves like one of the demo's
archetypes (`world.CATEGORY_WORDS` says how one is chosen), customers live in the profile's
countries, the orders carry the reporting currency, quantities and prices are scaled to the
profile's limits and stay within them, the return window and the days without orders are the
profile's, and a source the profile marks `absent` is not written.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cached_property
from pathlib import Path

import numpy as np

from returnlens.demo import world as W
from returnlens.ingest.contracts import CATEGORIES as CATEGORY_ARCHETYPES
from returnlens.ingest.contracts import CHANNELS as CHANNEL_ARCHETYPES
from returnlens.ingest.contracts import POSTAL_CODE_DIGITS
from returnlens.profile import WEEKDAYS, read_profile

DEMO_PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "demo.yml"
DEMO_COUNTRIES = ("NL", "BE", "DE")
NEEDED_SOURCES = ("shop", "returns")  # the generator cannot write a shop without these


class ShapeError(ValueError):
    """The generator cannot write the shop asked for: the message names the setting to change."""


def _least_used_archetypes(
    names: tuple[str, ...], archetypes: tuple[str, ...], words: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """An archetype per name: its own name if it is one, else the least-used archetype so far
    (ties: the one whose words occur in the name, then archetype order)."""
    chosen: dict[int, str] = {i: n for i, n in enumerate(names) if n in archetypes}
    used = {a: sum(1 for c in chosen.values() if c == a) for a in archetypes}
    for i, name in enumerate(names):
        if i in chosen:
            continue
        low = name.lower()
        least = min(used.values())
        candidates = [a for a in archetypes if used[a] == least]
        similar = [a for a in candidates if any(w in low for w in words[a])]
        chosen[i] = (similar or candidates)[0]
        used[chosen[i]] += 1
    return tuple(chosen[i] for i in range(len(names)))


def _similar_archetypes(
    names: tuple[str, ...], archetypes: tuple[str, ...], words: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """An archetype per name: its own name, else the first whose words occur in the name, else
    the least-used one."""
    chosen: list[str | None] = []
    for name in names:
        low = name.lower()
        similar = [a for a in archetypes if a == low or any(w in low for w in words[a])]
        chosen.append(similar[0] if similar else None)
    for i in range(len(names)):
        if chosen[i] is None:
            used = {a: chosen.count(a) for a in archetypes}
            chosen[i] = min(archetypes, key=lambda a: used[a])
    return tuple(str(a) for a in chosen)


def _cents(value: Decimal | None, rounding: str) -> int | None:
    if value is None:
        return None
    return int((value * 100).to_integral_value(rounding=rounding))


@dataclass(frozen=True)
class Shape:
    """What the generated shop looks like; the defaults are the demo shop."""

    categories: tuple[str, ...] = CATEGORY_ARCHETYPES
    category_archetypes: tuple[str, ...] = CATEGORY_ARCHETYPES
    countries: tuple[str, ...] = DEMO_COUNTRIES
    channels: tuple[str, ...] = CHANNEL_ARCHETYPES
    channel_archetypes: tuple[str, ...] = CHANNEL_ARCHETYPES
    currency: str | None = None  # written as orders.currency; None: no currency column
    max_quantity: int | None = None
    max_order_total_c: int | None = None  # cents
    max_refund_c: int | None = None
    min_list_price_c: int | None = None
    return_window_days: int = W.RETURN_WINDOW_DAYS
    closed_weekdays: tuple[int, ...] = ()  # 0 = Monday
    closed_dates: tuple[str, ...] = ()  # YYYY-MM-DD
    absent: frozenset[str] = field(default_factory=frozenset)
    profile_path: Path | None = None  # None: the demo shop (profiles/demo.yml is written)

    @classmethod
    def from_profile(cls, path: Path) -> Shape:
        """The shop a profile describes (raises `ProfileError` naming the key to fix)."""
        profile = read_profile(Path(path))

        def listed(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            values = profile.value_set(name).values
            return tuple(dict.fromkeys(values)) if values else default

        categories = listed("category", CATEGORY_ARCHETYPES)
        channels = listed("channel", CHANNEL_ARCHETYPES)
        category_words = {
            a: W.CATEGORY_WORDS[a] + tuple(s[1] for s in W.SUBCATEGORIES if s[0] == a)
            for a in CATEGORY_ARCHETYPES
        }
        limits = profile.limits
        max_quantity = limits.get("max_quantity")
        absent = frozenset(s for s, state in profile.sources.items() if state == "absent")
        for src in NEEDED_SOURCES:
            if src in absent:
                raise ShapeError(
                    f"{path}: sources.{src}: absent: the generator writes a shop's orders and "
                    f"returns, so it needs the source {src!r}; mark it required or optional"
                )
        shape = cls(
            categories=categories,
            category_archetypes=_least_used_archetypes(
                categories, CATEGORY_ARCHETYPES, category_words
            ),
            countries=listed("country", DEMO_COUNTRIES),
            channels=channels,
            channel_archetypes=_similar_archetypes(channels, CHANNEL_ARCHETYPES, W.CHANNEL_WORDS),
            currency=profile.reporting_currency,
            max_quantity=None if max_quantity is None else int(max_quantity),
            max_order_total_c=_cents(limits.get("max_order_total"), ROUND_FLOOR),
            max_refund_c=_cents(limits.get("max_refund"), ROUND_FLOOR),
            min_list_price_c=_cents(limits.get("min_list_price"), ROUND_CEILING),
            return_window_days=profile.return_window_days,
            closed_weekdays=tuple(WEEKDAYS.index(d) for d in profile.closed_weekdays),
            closed_dates=tuple(d.isoformat() for d in profile.closed_dates),
            absent=absent,
            profile_path=Path(path),
        )
        shape.check()
        return shape

    # ------------------------------------------------------------------ derived
    @property
    def is_demo(self) -> bool:
        return self.profile_path is None

    @property
    def profile_file(self) -> Path:
        """The profile to write as returnlens.yml next to the landing files."""
        return self.profile_path or DEMO_PROFILE

    @cached_property
    def arch(self) -> np.ndarray:
        """Archetype index (into the contracts' CATEGORIES) of each category."""
        return np.array([CATEGORY_ARCHETYPES.index(a) for a in self.category_archetypes])

    @cached_property
    def channel_arch(self) -> np.ndarray:
        """Archetype index (into the contracts' CHANNELS) of each channel."""
        return np.array([CHANNEL_ARCHETYPES.index(a) for a in self.channel_archetypes])

    def of(self, archetype: str) -> list[int]:
        """Indexes of the categories that behave like `archetype`."""
        return [i for i, a in enumerate(self.category_archetypes) if a == archetype]

    def sharing(self, i: int) -> int:
        """How many categories share category i's archetype."""
        return self.category_archetypes.count(self.category_archetypes[i])

    @cached_property
    def subcategories(self) -> tuple[tuple, ...]:
        """(category index, written name, archetype subcategory row of world.SUBCATEGORIES,
        products) per subcategory: a category shares its archetype's products with the other
        categories of that archetype; its subcategories are prefixed with its name unless it is
        the archetype."""
        out = []
        for i, (name, arch) in enumerate(
            zip(self.categories, self.category_archetypes, strict=True)
        ):
            k = self.sharing(i)
            for row in W.SUBCATEGORIES:
                if row[0] == arch:
                    label = row[1] if name == arch else f"{name}_{row[1]}"
                    n = row[2] if k == 1 else max(3, round(row[2] / k))
                    out.append((i, label, row, n))
        return tuple(out)

    @cached_property
    def sku_prefixes(self) -> tuple[str, ...]:
        """Two letters per category for its product codes (the demo's for its archetypes)."""
        out: list[str] = []
        for name, arch in zip(self.categories, self.category_archetypes, strict=True):
            if name == arch:
                out.append(W.SKU_PREFIX[arch])
                continue
            letters = "".join(ch for ch in name.upper() if "A" <= ch <= "Z") + "XX"
            prefix = letters[:2]
            j = 2
            while prefix in out or prefix in W.SKU_PREFIX.values():
                prefix = letters[0] + (letters[j] if j < len(letters) else str(j % 10))
                j += 1
            out.append(prefix)
        return tuple(out)

    @property
    def category_share(self) -> np.ndarray:
        """Base demand share per category: its archetype's, split over the categories sharing it."""
        return np.array(
            [
                W.CATEGORY_SHARE[a] / self.sharing(i)
                if self.sharing(i) > 1
                else W.CATEGORY_SHARE[a]
                for i, a in enumerate(self.category_archetypes)
            ]
        )

    @property
    def country_share(self) -> np.ndarray:
        if all(c in W.COUNTRY_SHARE for c in self.countries):
            return np.array([W.COUNTRY_SHARE[c] for c in self.countries])
        return 1.0 / np.arange(1, len(self.countries) + 1)

    @property
    def channel_share(self) -> np.ndarray:
        count = {a: self.channel_archetypes.count(a) for a in CHANNEL_ARCHETYPES}
        return np.array(
            [
                W.CHANNEL_SHARE[a] / count[a] if count[a] > 1 else W.CHANNEL_SHARE[a]
                for a in self.channel_archetypes
            ]
        )

    @property
    def quantity_ratio(self) -> float:
        """How many times the demo's max_quantity the profile allows (at least 1)."""
        if self.max_quantity is None:
            return 1.0
        return max(1.0, self.max_quantity / W.DEMO_MAX_QUANTITY)

    @property
    def bulk_share(self) -> float:
        """Share of order lines with a bulk quantity (0 within the demo's quantities)."""
        if self.quantity_ratio <= 1.0:
            return 0.0
        return min(W.BULK_SHARE_MAX, W.BULK_SHARE_PER_RATIO * self.quantity_ratio)

    @property
    def price_scale(self) -> float:
        """List prices x this: the part of a larger max_order_total that quantities leave."""
        if self.max_order_total_c is None:
            return 1.0
        money_ratio = self.max_order_total_c / 100 / W.DEMO_MAX_ORDER_TOTAL
        return max(1.0, money_ratio / self.quantity_ratio)

    @property
    def max_list_price_c(self) -> int | None:
        """Largest list price: one unit fits a refund, and a full order fits the order total."""
        caps = [c for c in (self.max_refund_c,) if c is not None]
        if self.max_order_total_c is not None:
            caps.append(self.max_order_total_c // W.MAX_LINES_PER_ORDER)
        return min(caps) if caps else None

    def check(self) -> None:
        """Limits the generator cannot meet together fail here, naming the keys."""
        where = self.profile_file
        lo, hi = self.min_list_price_c, self.max_list_price_c
        if lo is not None and hi is not None and lo > hi:
            raise ShapeError(
                f"{where}: limits.min_list_price {lo / 100:.2f} is above the largest price the "
                f"other limits leave ({hi / 100:.2f}: one unit must fit limits.max_refund and "
                f"{W.MAX_LINES_PER_ORDER} lines limits.max_order_total); raise those or lower it"
            )
        if hi is not None and hi < 1:
            raise ShapeError(
                f"{where}: limits.max_order_total / max_refund leave no room for a price; raise them"
            )
        if self.max_quantity is not None and self.max_quantity < 1:
            raise ShapeError(f"{where}: limits.max_quantity must be 1 or more for the generator")
        if len(self.closed_weekdays) == 7:
            raise ShapeError(f"{where}: orders.closed_weekdays: the shop is closed every day")

    # ------------------------------------------------------------------ customers
    def locale(self, country: str) -> str:
        from faker.config import AVAILABLE_LOCALES

        if country in W.COUNTRY_LOCALE:
            return W.COUNTRY_LOCALE[country]
        local = sorted(loc for loc in AVAILABLE_LOCALES if loc.endswith(f"_{country}"))
        for loc in local:
            try:
                importlib.import_module(f"faker.providers.person.{loc}")
                importlib.import_module(f"faker.providers.address.{loc}")
            except ImportError:
                continue
            return loc
        return W.FALLBACK_LOCALE

    def postal_kind(self, country: str) -> str:
        """nl: 1234 AB; be: 4 digits; digits<n>: n digits (may start with 0); else CC-12345."""
        if country == "NL":
            return "nl"
        if country == "BE":
            return "be"
        if country in POSTAL_CODE_DIGITS:
            return f"digits{POSTAL_CODE_DIGITS[country]}"
        return "alnum"

    def closed_day_mask(self, dates: np.ndarray) -> np.ndarray:
        """True on the days (datetime64[D]) the shop takes no orders."""
        weekday = (dates.astype(np.int64) + 3) % 7
        closed = np.isin(weekday, self.closed_weekdays)
        if self.closed_dates:
            closed |= np.isin(dates, np.array(self.closed_dates, dtype="datetime64[D]"))
        return closed


def bulk_mean(max_quantity: int) -> float:
    """Mean of floor(exp(U)), U uniform on [log 2, log(max + 1)) (a bulk line's quantity)."""
    a, b = 2.0, max_quantity + 1.0
    return (b - a) / math.log(b / a) - 0.5
