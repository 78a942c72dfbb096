"""The shop profile file: parsed, checked with messages that name the key, and applied to the
landing contracts (value sets, sources, dialects)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.profile import (
    ProfileError,
    ShopProfile,
    dbt_vars,
    gate_parameters,
    load_profile,
    read_profile,
    shop_entities,
)
from returnlens.quality.gates import render_query

pytestmark = pytest.mark.unit


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "returnlens.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _column(entities, entity: str, column: str):
    return next(e for e in entities if e.name == entity).column(column)


def test_demo_profile_closes_the_demo_sets_and_sets_the_demo_limits():
    profile = read_profile(PROJECT_ROOT / "profiles" / "demo.yml")
    entities = shop_entities(profile)
    assert _column(entities, "products", "category").allowed == (
        "apparel",
        "shoes",
        "home",
        "garden",
        "electronics",
    )
    assert _column(entities, "customers", "country_code").allowed == ("NL", "BE", "DE")
    assert _column(entities, "orders", "shipping_country").allowed == ("NL", "BE", "DE")
    assert _column(entities, "orders", "currency").allowed == ("EUR",)
    assert profile.limits["max_order_total"] == Decimal("50000")
    assert gate_parameters(profile)["profile_max_quantity"] == 50.0


def test_without_a_profile_value_sets_are_open_and_there_are_no_shop_limits(tmp_path):
    profile = load_profile(tmp_path)  # no returnlens.yml
    assert profile.path is None
    entities = shop_entities(profile)
    for entity, column in (
        ("products", "category"),
        ("customers", "country_code"),
        ("orders", "shipping_country"),
        ("orders", "channel"),
    ):
        assert _column(entities, entity, column).allowed is None, (entity, column)
    # without a profile: only the reporting currency (another needs listing and rates)
    assert _column(entities, "orders", "currency").allowed == ("EUR",)
    params = gate_parameters(profile)
    assert params["profile_max_order_total"] is None and params["profile_max_quantity"] is None
    optional = {e.name for e in entities if e.optional}
    assert optional == {
        "web_events",
        "nps_responses",
        "demand_forecasts",
        "suppliers",
        "production_batches",
        "interventions",
        "exchange_rates",
    }


def test_profile_at_the_landing_root_and_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    _write(tmp_path, "shop: {name: Fjord Home, reporting_currency: SEK}\n")
    assert load_profile(tmp_path).reporting_currency == "SEK"
    other = tmp_path / "elsewhere.yml"
    other.write_text("shop: {reporting_currency: GBP}\n", encoding="utf-8")
    monkeypatch.setenv("RETURNLENS_PROFILE", str(other))
    assert load_profile(tmp_path).reporting_currency == "GBP"
    monkeypatch.setenv("RETURNLENS_PROFILE", str(tmp_path / "missing.yml"))
    with pytest.raises(ProfileError, match=r"RETURNLENS_PROFILE=.*no such file"):
        load_profile(tmp_path)


def test_a_shop_the_demo_never_was_shapes_the_contracts(tmp_path):
    profile = read_profile(
        _write(
            tmp_path,
            """
shop: {name: Fjord Home, reporting_currency: SEK}
values:
  category: {closed: [furniture, lighting, office, kitchen, outdoor, textiles]}
  country: {open: [SE, NO]}
  currency: {closed: [SEK]}
limits: {max_quantity: 500, max_order_total: 250000}
return_window_days: 100
orders: {closed_weekdays: [Sunday], closed_dates: [2026-12-25]}
sources: {web: required, surveys: absent}
deliveries:
  orders:
    - {pattern: "orders_*.csv", format: csv, encoding: cp1252, delimiter: ";",
       decimal_separator: ",", thousands_separator: ".", date_format: "%d-%m-%Y",
       timestamp_format: "%d-%m-%Y %H:%M"}
    - {pattern: "orders_*.xlsx", format: xlsx}
""",
        )
    )
    entities = shop_entities(profile)
    assert _column(entities, "products", "category").allowed[-1] == "textiles"
    assert _column(entities, "customers", "country_code").allowed is None  # open
    assert _column(entities, "orders", "currency").allowed == ("SEK",)
    web = next(e for e in entities if e.name == "web_events")
    nps = next(e for e in entities if e.name == "nps_responses")
    assert web.optional is False and nps.optional is True
    orders = next(e for e in entities if e.name == "orders")
    main, excel = orders.file_specs
    assert (main.delimiter, main.decimal_separator, main.thousands_separator) == (";", ",", ".")
    assert main.encoding == "cp1252" and main.date_format == "%d-%m-%Y" and main.declared
    assert excel.format == "xlsx" and excel.declared
    params = gate_parameters(profile)
    assert params["profile_closed_weekdays"] == [7]  # ISO weekday of Sunday
    assert params["profile_closed_dates"] == ["2026-12-25"]
    assert params["profile_max_quantity"] == 500.0
    assert dbt_vars(profile)["return_window_days"] == 100
    assert dbt_vars(profile)["reporting_currency"] == "SEK"
    assert dbt_vars(profile)["profile_value_sets"]["country"] == {
        "kind": "open",
        "values": ["SE", "NO"],
    }


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour: red\n", "colour: unknown key"),
        ("values: {category: {closed: []}}\n", "values.category.closed"),
        ("values: {category: [a, b]}\n", "values.category"),
        ("values: {brand: {open: [x]}}\n", "values.brand: unknown key"),
        ("values: {currency: {closed: [EUR, usd]}}\n", "values.currency: 'usd' is not an ISO"),
        ("shop: {reporting_currency: euro}\n", "shop.reporting_currency"),
        ("limits: {max_refund: -5}\n", "limits.max_refund"),
        ("limits: {max_refund: lots}\n", "limits.max_refund"),
        ("return_window_days: 0\n", "return_window_days"),
        ("orders: {closed_weekdays: [zondag]}\n", "orders.closed_weekdays"),
        ("orders: {closed_dates: [25-12-2026]}\n", "orders.closed_dates"),
        ("sources: {returns: optional}\n", "sources.returns"),
        ("sources: {web: sometimes}\n", "sources.web"),
        ("deliveries: {orders: [{pattern: 'o*.csv'}]}\n", "deliveries.orders[0].format"),
        (
            "deliveries: {orders: [{pattern: 'o*.csv', format: csv, delimiter: '#'}]}\n",
            "deliveries.orders[0]: delimiter",
        ),
        ("deliveries: {invoices: []}\n", "deliveries.invoices: unknown key"),
        ("shop: [unclosed\n", "not a readable YAML"),
    ],
)
def test_a_wrong_profile_fails_naming_the_file_and_the_key(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        read_profile(path)
    message = str(err.value)
    assert str(path) in message and key in message and "docs/profile.md" in message


def test_other_currencies_may_be_listed_and_become_the_allowed_values(tmp_path):
    """Orders in another currency load when the profile lists it (dbt converts them with the
    exchange_rates source); a currency it does not list is still quarantined."""
    path = _write(
        tmp_path, "shop: {reporting_currency: EUR}\nvalues: {currency: {closed: [EUR, SEK]}}\n"
    )
    profile = read_profile(path)
    assert _column(shop_entities(profile), "orders", "currency").allowed == ("EUR", "SEK")
    assert dbt_vars(profile)["profile_value_sets"]["currency"] == {
        "kind": "closed",
        "values": ["EUR", "SEK"],
    }
    _write(tmp_path, "values: {currency: {open: [SEK]}}\n")
    assert _column(shop_entities(read_profile(path)), "orders", "currency").allowed is None


def test_suite_query_placeholders_become_sql_literals():
    sql = render_query(
        "select 1 where not list_contains({{ profile_closed_dates }}, d) and x < {{ n }}",
        {"profile_closed_dates": ["2026-12-25", "o'clock"], "n": 7},
    )
    assert sql == (
        "select 1 where not list_contains(cast(['2026-12-25', 'o''clock'] as varchar[]), d) "
        "and x < 7"
    )
    assert "cast([] as varchar[])" in render_query("{{ a }}", {"a": []})
    with pytest.raises(ValueError, match="no parameter"):
        render_query("{{ missing }}", {})


def test_built_in_profile_is_what_dbt_project_defaults_to():
    import yaml

    defaults = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    built_in = dbt_vars(ShopProfile())
    for key in ("reporting_currency", "return_window_days", "optional_entities"):
        assert defaults[key] == built_in[key], key
    assert defaults["profile_value_sets"] == built_in["profile_value_sets"]
