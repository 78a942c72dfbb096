"""Demo-shop generator: a year of a Dutch/EU web shop with planted, documented signals.

`generate(out, seed, scale, dirty, suppliers, plant_signals)` writes the landing zone (one
folder per source, files as the contracts in `returnlens.ingest.contracts` describe them) and
`out/ground_truth.json`, the facts the planted signals should let a mart recover.

Everything is vectorised numpy with one `np.random.Generator` per source (spawned from the seed);
strings, ids and timestamps are formatted by DuckDB while writing, from integer arrays handed over
as Arrow, so the same seed gives the same bytes.

This module only orchestrates, in an order that is part of the bytes (each generator is used by
its source in turn; dirty mode's generator by the writers in the order called here):
- `returnlens.demo.world`: the world's parameters (rates, effects, mixes, word lists);
  `returnlens.demo.shape`: how a shop profile reshapes them; `timeline`, `sampling`: the
  calendar and the vectorised draws;
- `returnlens.demo.model`: the world model, one module per source, drawing the arrays;
- `returnlens.demo.truth`: the ground truth, computed from the model's probabilities;
- `returnlens.demo.interventions`: the shop's interventions, planted into the line model;
- `returnlens.demo.loyalty`: the loyalty gap, orders lost after slow refunds;
- `returnlens.demo.keep_it`: the keep-it products, a few often-returned products made cheap;
- `returnlens.demo.sources`: the writers, one module per source folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from returnlens.demo import interventions, keep_it, loyalty
from returnlens.demo.model.catalog import catalog
from returnlens.demo.model.customers import customers
from returnlens.demo.model.orders import orders
from returnlens.demo.model.planning import forecasts
from returnlens.demo.model.returns import line_model, returns
from returnlens.demo.model.surveys import surveys
from returnlens.demo.model.web import sessions
from returnlens.demo.sampling import id_width
from returnlens.demo.shape import Shape
from returnlens.demo.sources.files import Layout, Writer
from returnlens.demo.sources.planning import write_forecasts
from returnlens.demo.sources.purchasing import write_purchasing
from returnlens.demo.sources.returns import write_returns
from returnlens.demo.sources.shop import (
    write_customers,
    write_order_lines,
    write_orders,
    write_products,
)
from returnlens.demo.sources.surveys import write_surveys
from returnlens.demo.sources.web import web_format_for, write_events
from returnlens.demo.timeline import month_bounds
from returnlens.demo.truth import ground_truth, planted_facts, shop_facts
from returnlens.ingest.contracts import SOURCES
from returnlens.profile import PROFILE_FILE

RNG_NAMES = ("catalog", "customers", "orders", "returns", "web", "surveys", "planning", "dirty")


def generate(
    out: Path,
    seed: int = 42,
    scale: float = 1.0,
    dirty: bool = False,
    suppliers: int | None = None,
    plant_signals: bool = True,
    profile: Path | None = None,
    web_format: str | None = None,
) -> dict:
    """Write the landing zone under `out`, `out/ground_truth.json` and `out/returnlens.yml`.

    `suppliers`: how many suppliers the shop buys from (default: the demo's 25), spread over the
    categories in the demo's proportions; every supplier sells at least one product, and a
    category gets more products when it would have fewer than two per supplier.
    `plant_signals=False`: no planted quality signals (small-sizing suppliers, defective batches)
    and no supplier, product (fragile, premium) or seasonal return effects, so every product,
    supplier and batch draws its returns from the same base rates of its category; customer
    behaviour (hesitation, bracketing, abusers) stays. The ground truth then says so under
    "planted". Default options give the same bytes as always.
    `profile`: a shop profile (returnlens.yml, see `returnlens.demo.shape`): the shop gets its
    categories, countries, channels, currency (orders.currency), limits, return window, closed
    days and sources; the profile is written as `out/returnlens.yml` (without one, the demo's
    profiles/demo.yml) and the ground truth says under "shop" how the demo's world was mapped.
    `web_format`: "jsonl" or "parquet" for the web events (default: Parquet from scale 5).

    Returns a summary with row counts per entity and elapsed seconds.
    """
    started = time.perf_counter()
    shape = Shape.from_profile(profile) if profile is not None else Shape()
    if not shape.profile_file.is_file():
        raise FileNotFoundError(
            f"{shape.profile_file}: the demo shop's profile is missing (it ships with the "
            "repository as profiles/demo.yml); restore it or pass a profile"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for src in SOURCES:
        shutil.rmtree(out / src, ignore_errors=True)
        if src not in shape.absent:  # a source the shop does not have: no folder at all
            (out / src).mkdir()
    rngs = dict(
        zip(
            RNG_NAMES,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(RNG_NAMES))),
            strict=True,
        )
    )
    cat = catalog(rngs["catalog"], scale, suppliers, plant_signals, shape)
    cust = customers(rngs["customers"], scale, shape)
    od = orders(rngs["orders"], cat, cust)
    lm = line_model(cat, cust, od)
    # a generator of its own (the next spawned child), so the other sources' draws are unchanged
    irng = np.random.default_rng(np.random.SeedSequence(seed).spawn(len(RNG_NAMES) + 1)[-1])
    planted, plan = interventions.plant(irng, cat, od, lm)
    rt = returns(rngs["returns"], cat, cust, od, lm)
    interventions.thin(irng, rt, plan)
    plan = None  # line-length arrays, used up
    # the loyalty gap: orders lost after slow refunds dropped, with a generator of its own
    lost = None
    if cat.plant:
        lrng = np.random.default_rng(np.random.SeedSequence(seed).spawn(len(RNG_NAMES) + 2)[-1])
        lost = loyalty.plant(lrng, od, lm, rt)
    # keep-it products: a few often-returned products made cheap, last (the returns are final)
    kept = None
    if cat.plant and shape.is_demo:
        krng = np.random.default_rng(np.random.SeedSequence(seed).spawn(len(RNG_NAMES) + 3)[-1])
        kept = keep_it.plant(krng, cat, cust, od, rt)
    nps = surveys(rngs["surveys"], od, rt) if "surveys" not in shape.absent else None
    fc = forecasts(rngs["planning"], cat) if "planning" not in shape.absent else []
    drng = rngs["dirty"] if dirty else None
    wr = Writer(out, threads=max(1, min(2, os.cpu_count() or 1)))
    labels, bounds = month_bounds("2025-09", "2026-12")
    layout = Layout(
        wc=id_width(cust.n, 7),
        # order numbers; dirty mode adds orphan returns numbered above the last order
        wo=id_width(od.n + (1_000 + rt.n_rma if drng is not None else 0), 7),
        labels=labels,
        bounds=bounds,
    )
    # the ground truth (numpy, reading the model) is computed in a thread while the files are
    # written (DuckDB): both release the GIL, so two cores work; neither changes the model
    with ThreadPoolExecutor(max_workers=1) as pool:
        truth_job = pool.submit(ground_truth, seed, scale, dirty, cat, cust, od, lm, rt)
        # everything but orders and web events (which need the session ids)
        if "purchasing" not in shape.absent:
            write_purchasing(wr, cat)
        write_products(wr, cat, drng)
        write_customers(wr, cust, layout, drng)
        write_order_lines(wr, cat, od, layout, drng)
        dirty_facts = write_returns(wr, cat, od, rt, layout, drng)
        if nps is not None:
            write_surveys(wr, nps, layout, drng)
        write_forecasts(wr, cat, fc)
        if "interventions" not in shape.absent:
            interventions.write_interventions(wr, planted)
        truth = truth_job.result()
    if cat.custom or not plant_signals:  # the default shop's truth keeps its bytes
        truth["planted"] = planted_facts(cat, plant_signals)
    if not shape.is_demo:
        truth["shop"] = shop_facts(shape)
    if planted:
        truth["interventions"] = interventions.truth(planted)
    if lost is not None:
        truth["loyalty"] = lost
    if kept is not None:
        truth["keep_it"] = kept
    # line-level arrays are written: free them (and what the sessions and the orders file do
    # not read) before the (large) clickstream is built
    _keep_only(od, SESSIONS_READ | ORDERS_READ)
    del lm, rt, nps, fc
    gc.collect()  # arrays the model left in reference cycles go now, not at some later point
    _release_freed_heap()
    if "web" in shape.absent:  # no web tracking: no events and no session ids on the orders
        write_orders(wr, cust, od, None, 9, layout, drng)
    else:
        web = sessions(rngs["web"], cat, cust, od)
        _keep_only(od, ORDERS_READ)
        ws = id_width(web.n_sessions, 9)
        fmt = web_format_for(scale, web_format)
        # the orders (DuckDB) are written while the events are (Arrow, two threads)
        wr.rows.setdefault("orders", 0)  # the summary's order of entities stays as it was
        with ThreadPoolExecutor(max_workers=1) as pool:
            orders_job = pool.submit(write_orders, wr, cust, od, web, ws, layout, drng)
            del od, cust  # the thread holds them until the orders are written
            write_events(wr, web, cat, layout.wc, ws, layout.labels, layout.bounds, fmt)
            orders_job.result()
        truth["counts"]["sessions"] = int(web.n_sessions)
    truth["row_counts"] = dict(wr.rows)
    if dirty:
        truth["dirty_mode"].update(dirty_facts)
    text = json.dumps(_plain(truth), sort_keys=True, indent=2) + "\n"
    (out / "ground_truth.json").write_text(text)
    shutil.copyfile(shape.profile_file, out / PROFILE_FILE)
    return {
        "out": str(out),
        "seed": seed,
        "scale": scale,
        "dirty": dirty,
        "suppliers": cat.n_sup,
        "plant_signals": plant_signals,
        "rows": dict(wr.rows),
        "elapsed_s": round(time.perf_counter() - started, 2),
    }


# the orders model's arrays `model.web.sessions` and `sources.shop.write_orders` read
SESSIONS_READ = frozenset(
    {"ts", "customer", "channel", "purchased", "ln_sku", "it_order", "it_prod", "it_k"}
    | {"it_d", "it_views", "it_sg", "it_web", "it_first_line"}
)
ORDERS_READ = frozenset(("ts", "customer", "channel", "shipped", "delivered", "total_c"))


def _keep_only(od, names: frozenset[str]) -> None:
    """Drop the arrays of the orders model `od` not named in `names` (memory)."""
    for name in [k for k, v in vars(od).items() if isinstance(v, np.ndarray) and k not in names]:
        delattr(od, name)


def _release_freed_heap() -> None:
    """Give the C heap's freed pages back to the system (glibc; elsewhere nothing): the model's
    smaller arrays leave ~0.3 GB there at 10M lines that the clickstream's large arrays, mapped
    on their own, would not reuse."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _plain(x):
    """Numpy scalars and tuples as plain JSON values."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
