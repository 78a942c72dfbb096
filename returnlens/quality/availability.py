"""Optional sources: which were delivered, which marts need them, and what readers are told.

A shop may deliver no web events, NPS surveys, demand forecasts, suppliers, production batches
or interventions at all (`Entity.optional` in the landing contracts; the shop profile's `sources` may make any of
them required). The run still publishes: the marts that need a
missing source are published empty, `marts.rpt_source_availability` says "not available: no
<source> delivered", and the gates on those relations pass with that note instead of failing on
an empty table. A source that was delivered but is broken still fails its gates.

`MARTS_NEEDING` is the one list of which marts cannot be built without which optional entity;
`models/marts/reports/rpt_source_availability.sql` publishes the same list (a unit test keeps
the two equal) and the contract docs render it.

A delivered entity may still leave out optional columns that some marts measure:
`FIELDS_NEEDED` lists them. A shop whose returns carry neither received_at nor refunded_at on
any row gets the processing-time marts "not available: no processing timestamps delivered",
the same way (one row of rpt_source_availability, gates skipped with the note).
"""

from __future__ import annotations

import duckdb

from returnlens.ingest.contracts import ENTITIES, OPTIONAL_ENTITIES

MARTS_NEEDING: dict[str, tuple[str, ...]] = {
    "web_events": ("sig_purchase_journeys", "sig_return_rate_by_behaviour_band"),
    "nps_responses": ("fct_nps_responses", "kpi_nps"),
    "demand_forecasts": ("sig_forecast_backtest", "sig_return_aware_forecasts"),
    "production_batches": ("dim_batches", "sig_batch_quality"),
    "interventions": ("sig_intervention_effects",),
}


# field group -> (entity, its columns: delivered when a row has any of them, marts needing it)
FIELDS_NEEDED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "processing_timestamps": (
        "returns",
        ("received_at", "refunded_at"),
        ("kpi_return_processing_times",),
    ),
}


def not_available_message(entity: str) -> str:
    """What a reader sees for a mart whose optional source was not delivered."""
    return f"not available: no {entity.replace('_', ' ')} delivered"


def needed_entities(
    relation: str, optional: tuple[str, ...] = OPTIONAL_ENTITIES
) -> tuple[str, ...]:
    """The optional entities a relation (`raw.<entity>` or `marts.<mart>`) cannot do without."""
    schema, _, table = relation.partition(".")
    if schema == "raw":
        return (table,) if table in optional else ()
    return tuple(e for e, marts in MARTS_NEEDING.items() if table in marts) + tuple(
        f for f, (_, _, marts) in FIELDS_NEEDED.items() if table in marts
    )


def delivered_entities(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Landing entities with at least one delivered file (any status, failed ones included:
    a broken delivery is delivered and must fail its gates) or rows in their raw table."""
    delivered: set[str] = set()
    try:
        rows = con.execute(
            "select distinct entity from raw.load_audit where entity is not null"
        ).fetchall()
        delivered |= {r[0] for r in rows}
    except duckdb.CatalogException:
        pass
    for e in ENTITIES:
        if e.name in delivered:
            continue
        try:
            if con.execute(f"select count(*) from {e.table}").fetchall()[0][0]:
                delivered.add(e.name)
        except duckdb.CatalogException:
            pass
    for group, (entity, columns, _) in FIELDS_NEEDED.items():
        carried = " or ".join(f"{c} is not null" for c in columns)
        try:
            if con.execute(f"select count(*) from raw.{entity} where {carried}").fetchall()[0][0]:
                delivered.add(group)
        except duckdb.CatalogException:
            pass
    return delivered


def required_missing(
    relation: str, delivered: set[str], optional: tuple[str, ...] = OPTIONAL_ENTITIES
) -> str | None:
    """For a raw table of a required entity of which no file was delivered at all: the error
    that names it and what to do; else None."""
    schema, _, table = relation.partition(".")
    if schema != "raw" or table in delivered or table in optional:
        return None
    known = {e.name: e for e in ENTITIES}
    if table not in known:
        return None
    e = known[table]
    return (
        f"no {table.replace('_', ' ')} delivered: this source is required (orders, products, "
        f"customers and returns always; others where the shop profile's `sources` says "
        f"required); put the export in the landing folder as {e.source}/{e.pattern} (see "
        f"docs/contracts/{e.source}.md), or mark {e.source} optional in returnlens.yml"
    )


def missing_for(
    relation: str, delivered: set[str], optional: tuple[str, ...] = OPTIONAL_ENTITIES
) -> list[str]:
    """Optional entities the relation needs that were not delivered."""
    return [e for e in needed_entities(relation, optional) if e not in delivered]
