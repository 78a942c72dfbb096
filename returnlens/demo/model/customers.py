"""The shop's customers in the world model: names and addresses from the locales of the shop's
countries (Faker's word lists, sampled in bulk), contact details, activity and the planted
return abusers."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
from faker.providers.address.de_DE import Provider as AddressDE
from faker.providers.address.nl_BE import Provider as AddressBE
from faker.providers.address.nl_NL import Provider as AddressNL
from faker.providers.person.de_DE import Provider as PersonDE
from faker.providers.person.nl_BE import Provider as PersonBE
from faker.providers.person.nl_NL import Provider as PersonNL

from returnlens.demo import world as W
from returnlens.demo.sampling import pick
from returnlens.demo.shape import Shape
from returnlens.demo.timeline import T_END, epoch_seconds


def _keys(x) -> list:
    return list(x.keys()) if isinstance(x, dict) else list(x)


def _locale_lists(locale: str) -> dict:
    """First names (male, female), last names, cities, street roots and suffixes of a locale."""
    if locale == "nl_NL":
        person, address = PersonNL, AddressNL
    elif locale == "nl_BE":
        person, address = PersonBE, AddressBE
    elif locale == "de_DE":
        person, address = PersonDE, AddressDE
    else:
        person = importlib.import_module(f"faker.providers.person.{locale}").Provider
        address = importlib.import_module(f"faker.providers.address.{locale}").Provider
    first = (
        _keys(getattr(person, "first_names_male", person.first_names)),
        _keys(getattr(person, "first_names_female", person.first_names)),
    )
    last = _keys(person.last_names)
    # Dutch and Flemish streets are named after people's first names, others after surnames
    root = first[0] + first[1] if locale.startswith("nl_") else last
    if locale == "de_DE":
        suffix = [s for s in AddressDE.street_suffixes_short if not s.endswith(".")]
    else:
        suffix = _keys(getattr(address, "street_suffixes", None) or ["street"])
        if not locale.startswith("nl_"):  # 'Main Street', but 'Storgatan'
            suffix = [f" {s}" if s[:1].isupper() else s for s in suffix]
    if hasattr(address, "cities"):
        city = _keys(address.cities)
    else:  # towns named like the locale's: a surname and a town suffix (Hansenberg)
        ends = _keys(getattr(address, "city_suffixes", None) or ["by"])
        city = [f"{n}{e}" for n in last[:40] for e in ends[:5]]
    return {"first": first, "last": last, "city": city, "street_root": root, "suffix": suffix}


def _name_lists(shape: Shape) -> dict:
    """Per country of the shop (in its order) the word lists of `_locale_lists`."""
    per = [_locale_lists(shape.locale(c)) for c in shape.countries]
    return {k: tuple(x[k] for x in per) for k in per[0]}


def _lookup(rng: np.random.Generator, lists: tuple, group: np.ndarray) -> pa.DictionaryArray:
    """Sample one word per row from the list of its group, as an Arrow dictionary array."""
    sizes = np.array([len(x) for x in lists])
    offsets = np.cumsum(sizes) - sizes
    idx = offsets[group] + (rng.random(len(group)) * sizes[group]).astype(np.int64)
    words = [w for x in lists for w in x]
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(words))


def customers(rng: np.random.Generator, scale: float, shape: Shape) -> SimpleNamespace:
    n = max(50, round(W.CUSTOMERS_PER_SCALE * scale))
    country = pick(rng, shape.country_share, n)
    female = (rng.random(n) < 0.5).astype(np.int64)
    names = _name_lists(shape)
    first = _lookup(rng, tuple(x for loc in names["first"] for x in loc), country * 2 + female)
    lastn = _lookup(rng, names["last"], country)
    city = _lookup(rng, names["city"], country)
    street_root = _lookup(rng, names["street_root"], country)
    suffix = _lookup(rng, names["suffix"], country)
    house = 1 + np.minimum(rng.geometric(0.03, n), 249)
    five = [
        i for i, c in enumerate(shape.countries) if shape.postal_kind(c) in ("digits5", "alnum")
    ]
    postal = np.where(
        np.isin(country, five), rng.integers(1067, 99999, n), rng.integers(1000, 10000, n)
    ).astype(np.int64)
    letters = rng.integers(0, 26, (n, 2)).astype(np.int64)
    letters[:, 0] = np.where(letters[:, 0] == 18, 17, letters[:, 0])  # no S? pairs (SA/SD/SS)
    phone = rng.integers(0, 100_000_000, n).astype(np.int64)
    phone_null = rng.random(n) < 0.15
    domain = np.where(rng.random(n) < 0.2, len(shape.countries), country)
    activity = np.exp(rng.normal(0, 0.8, n))
    abuser = rng.random(n) < W.ABUSER_SHARE
    if not abuser.any():
        abuser[int(np.argmax(activity))] = True
    activity = activity * np.where(abuser, W.ABUSER_ACTIVITY, 1.0)
    signup = rng.integers(epoch_seconds("2019-01-01"), T_END, n)
    return SimpleNamespace(
        n=n,
        country=country,
        first=first,
        last=lastn,
        city=city,
        street_root=street_root,
        suffix=suffix,
        house=house,
        postal=postal,
        letters=letters,
        phone=phone,
        phone_null=phone_null,
        domain=domain,
        activity_p=activity / activity.sum(),
        abuser=abuser,
        signup=signup,
        shape=shape,
        created=signup.copy(),
    )
