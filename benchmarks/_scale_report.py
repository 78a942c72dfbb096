"""bench_scale's plot (time and memory vs scale) and its table in benchmarks/README.md."""

from __future__ import annotations

from pathlib import Path

START, END = "<!-- bench_scale:start -->", "<!-- bench_scale:end -->"


def _series(entries: dict[str, dict], get) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for e in sorted(entries.values(), key=lambda e: e["scale"]):
        try:
            y = get(e)
        except (KeyError, TypeError):
            continue
        if y:
            xs.append(e["order_lines"] / 1e6)
            ys.append(y)
    return xs, ys


def _count(n: int) -> str:
    return f"{n / 1e6:.3g}M" if n >= 1e6 else f"{n / 1e3:.3g}k"


def plot(entries: dict[str, dict], out: Path, budget_gib: float) -> None:
    """Two log-log panels over order lines: wall and CPU time, and peak memory, of the main
    job, bare DuckDB, the incremental one-day run and the generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    shown = sorted(entries.values(), key=lambda e: e["scale"])
    ticks = [e["order_lines"] / 1e6 for e in shown]
    labels = [f"{_count(e['order_lines'])}\nscale {e['scale']:g}" for e in shown]
    lines = [
        ("main job, wall", lambda e: e["pipeline"]["seconds"], "C0", "o", "-"),
        ("main job, CPU", lambda e: e["pipeline"]["cpu_seconds"], "C0", "o", "--"),
        ("bare DuckDB, wall", lambda e: e["bare"]["seconds"], "C1", "s", "-"),
        ("bare DuckDB, CPU", lambda e: e["bare"]["cpu_seconds"], "C1", "s", "--"),
        ("one-day run, wall", lambda e: e["incremental"]["one_day"]["seconds"], "C2", "^", "-"),
        ("generator, wall", lambda e: e["generator"]["seconds"], "0.5", "x", ":"),
    ]
    for label, get, color, marker, style in lines:
        xs, ys = _series(entries, get)
        if xs:
            left.plot(xs, ys, marker=marker, linestyle=style, color=color, label=label)
    for e in entries.values():  # the ratio beside each run
        if e.get("ratio_wall"):
            left.annotate(
                f"{e['ratio_wall']:.1f}x",
                (e["order_lines"] / 1e6, e["pipeline"]["seconds"]),
                textcoords="offset points",
                xytext=(6, 6),
                color="C0",
            )
    left.set_title("time (pipeline vs bare DuckDB)")
    left.set_ylabel("seconds")
    memory = [
        ("main job", lambda e: e["pipeline"]["peak_rss_gib"], "C0", "o"),
        ("bare DuckDB", lambda e: e["bare"]["peak_rss_gib"], "C1", "s"),
        ("one-day run", lambda e: e["incremental"]["one_day"]["peak_rss_gib"], "C2", "^"),
        ("generator", lambda e: e["generator"]["peak_rss_gib"], "0.5", "x"),
    ]
    for label, get, color, marker in memory:
        xs, ys = _series(entries, get)
        if xs:
            right.plot(xs, ys, marker=marker, color=color, label=label)
    right.axhline(budget_gib, color="red", linestyle=":", label=f"budget {budget_gib:g} GiB")
    right.set_ylim(top=max(right.get_ylim()[1], budget_gib * 1.3))  # the budget well in view
    right.set_title("peak memory, summed over the process tree")
    right.set_ylabel("GiB")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        # y: 1, 2, 5, 10, 20 ... as plain numbers; x: one tick per scale measured
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ticks, labels)
        ax.set_xlabel("order lines (demo shop, seed 42)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _f(value, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


def table(entries: dict[str, dict]) -> str:
    """The figures of every scale as a markdown table."""
    head = (
        "| scale | order lines | main job wall (CPU) s | bare wall (CPU) s | main/bare wall (CPU) "
        "| peak GiB main (bare) | one-day / full wall (CPU) | generator s, GiB | measured |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for key, e in sorted(entries.items(), key=lambda kv: float(kv[0])):
        p, b = e["pipeline"], e.get("bare") or {}
        incr, gen = e.get("incremental", {}), e["generator"]
        rows.append(
            f"| {key} | {e['order_lines']:,} "
            f"| {_f(p['seconds'])} ({_f(p['cpu_seconds'])}){'' if p['success'] else ' FAILED'} "
            f"| {_f(b.get('seconds'))} ({_f(b.get('cpu_seconds'))}) "
            f"| {_f(e.get('ratio_wall'), '.2f')} ({_f(e.get('ratio_cpu'), '.2f')}) "
            f"| {_f(p['peak_rss_gib'], '.2f')} ({_f(b.get('peak_rss_gib'), '.2f')}) "
            + (
                f"| {_f(incr.get('ratio_wall'), '.2f')} ({_f(incr.get('ratio_cpu'), '.2f')}) "
                if "ratio_wall" in incr
                else "| not run "
            )
            + (
                f"| {_f(gen['seconds'])}, {_f(gen['peak_rss_gib'], '.1f')} "
                if gen.get("measured")
                else "| not measured "
            )
            + f"| {e['measured_at'][:16]} at {e['commit']}, load {e['load_before'][0]:.1f} |"
        )
    return head + "\n".join(rows) + "\n"


SECTION = f"""## Scale: the main job beside bare DuckDB (`bench_scale`)

`make bench BENCH=bench_scale` runs, for each demo-shop scale of `BENCH_SCALE_SCALES` (default
`1,6.7,67`: 150k, 1M and 10M order lines, seed 42), side by side in one call: the generator; the
main job as a user runs it (`returnlens run`, default settings, a fresh data folder) with its
wall and CPU time and its peak memory summed over the process tree; bare DuckDB doing the same
work in one process (plain reads of the same files, dbt's compiled SQL of every model and test
from the run's `target/`, each GX suite as one aggregate query, the same publish copy); and an
incremental run of one new day against a full run of the days before it. An existing landing
folder can stand in for the generator (`BENCH_SCALE_LANDING_67=<folder>`; the generator is then
measured writing the incremental runs' landing); `BENCH_SCALE_INCREMENTAL=0` skips the
incremental runs. Targets at 10M order lines (issue 16): main job ≤ 1.5x bare, one day
≤ 0.1x a full run, peak ≤ 4 GiB, generator ≤ 60 s. Every figure is in
`results/bench_scale.json`; wall times on this shared 2-core machine depend on its load (shown).

![time and memory vs scale](results/bench_scale.png)

{START}
(run the benchmark to fill in this table)
{END}
"""


def update_readme(entries: dict[str, dict], readme: Path) -> None:
    """Put the table between the README's markers (the section appended when it is missing)."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + SECTION
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{START}\n{table(entries)}{END}{after}", encoding="utf-8")
