"""The `returnlens` command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from returnlens.cli_options import CommandGroup, build_options, incremental_options
from returnlens.config import settings
from returnlens.demo.layouts import LAYOUT_HELP, LAYOUTS


@click.group(cls=CommandGroup)
def main() -> None:
    """Returnlens: a returns warehouse for web shops."""


@main.command()
@click.option("--seed", default=42, show_default=True, help="Random seed; same seed, same bytes.")
@click.option("--scale", default=1.0, show_default=True, help="1 = a year, ~150k order lines.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder to write to (default: the demo shop's own folder, <data dir>/demo/landing).",
)
@click.option("--dirty", is_flag=True, help="Add realistic dirt (duplicates, orphans, gaps).")
@click.option(
    "--suppliers",
    type=click.IntRange(min=5),
    help="Suppliers, spread over the categories (default: the demo's 25); each sells a product.",
)
@click.option(
    "--plant-signals/--no-plant-signals",
    default=True,
    show_default=True,
    help="Plant the quality signals (small-sizing suppliers, defective batches, supplier and "
    "season effects); without, every product, supplier and batch returns at its category's "
    "base rates, so any quality alert is a false alarm.",
)
@click.option(
    "--profile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A shop profile (returnlens.yml, e.g. profiles/example_b2b.yml): write a shop of its "
    "categories, countries, channels, currency, limits, return window and sources instead of "
    "the demo's. It is written as returnlens.yml next to the files.",
)
@click.option("--layout", type=click.Choice(LAYOUTS), default="native", help=LAYOUT_HELP)
def generate(
    seed: int,
    scale: float,
    out: Path | None,
    dirty: bool,
    suppliers: int | None,
    plant_signals: bool,
    profile: Path | None,
    layout: str,
) -> None:
    """Write the demo shop's landing files, its ground truth and its profile (returnlens.yml)."""
    from returnlens.demo.layouts import generate as run_generator
    from returnlens.demo.shape import ShapeError
    from returnlens.pipeline import demo_landing_dir
    from returnlens.profile import ProfileError

    out = out or demo_landing_dir()
    started = time.perf_counter()
    try:
        summary = run_generator(
            out,
            seed=seed,
            scale=scale,
            dirty=dirty,
            suppliers=suppliers,
            plant_signals=plant_signals,
            profile=profile,
            layout=layout,
        )
    except (ProfileError, ShapeError) as exc:  # names the profile key or option to change
        raise click.UsageError(str(exc)) from exc
    elapsed = time.perf_counter() - started
    rows = summary.get("rows", summary)
    shop = f"shop of the profile {profile}" if profile else "demo shop"
    click.echo(f"{shop} written to {out} in {elapsed:.1f} s")
    if isinstance(rows, dict):
        for name, count in rows.items():
            if isinstance(count, int):
                click.echo(f"  {name:<20} {count:>12,}")


@main.command()
@click.option("--seed", default=42, show_default=True, help="Seed for the demo shop if generated.")
@click.option(
    "--scale", default=1.0, show_default=True, help="Scale of the demo shop if generated."
)
@incremental_options
def run(seed: int, scale: float, full_refresh: bool, backfill_start, backfill_end) -> None:
    """Run the main job: load, build, check, publish, export (the demo shop if no data).

    With RETURNLENS_LANDING_DIR set, that folder must hold the shop's files. Without it, the
    default landing folder is read; when it is empty or absent, the demo shop runs from its own
    folder (<data dir>/demo/landing), labelled as demo data (run daily/backfill: operations.md).
    """
    import os

    from returnlens.pipeline import LandingError, choose_landing, run_main_job, run_outcome
    from returnlens.summary import kpi_summary

    build, cfg = build_options(full_refresh, backfill_start, backfill_end), settings()
    started = time.perf_counter()
    try:
        landing = choose_landing()
    except LandingError as exc:
        click.echo(f"Not running: {exc}", err=True)
        sys.exit(2)
    if landing.needs_demo:
        from returnlens.demo.generator import generate as run_generator

        click.echo(
            f"No landing data configured (RETURNLENS_LANDING_DIR is not set and "
            f"{cfg.landing_dir} is empty): generating the DEMO shop into {landing.path} "
            f"(seed {seed}, scale {scale})."
        )
        run_generator(landing.path, seed=seed, scale=scale)
    elif landing.is_demo:
        click.echo(f"Running on the DEMO shop in {landing.path}.")
    if landing.path != cfg.landing_dir:  # the run's steps read the landing folder from here
        os.environ["RETURNLENS_LANDING_DIR"] = str(landing.path)
    click.echo("Running the main job (ingest -> dbt build -> quality gates -> publish -> exports)")
    outcome = run_outcome(run_main_job(**build))
    elapsed = time.perf_counter() - started
    publish_id = outcome.metadata.get("serving__published_marts", {}).get("publish_id")
    click.echo("", err=not outcome.success)
    click.echo(outcome.report(cfg.serving, publish_id, elapsed), err=not outcome.success)
    if outcome.published:
        click.echo("")
        click.echo(kpi_summary(cfg.serving))
    sys.exit(0 if outcome.success else 1)


@main.command()
def export() -> None:
    """Write the exports (supplier alerts, review queue) again from the serving database."""
    from returnlens.exports import ExportError, write_exports

    serving = settings().serving
    if not serving.exists():
        click.echo(f"No serving database at {serving}: run `make run` first.", err=True)
        sys.exit(1)
    try:
        result = write_exports(serving)
    except ExportError as exc:
        click.echo(f"Exports FAILED: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"Exports written to {result.export_dir}: alerts of {len(result.alert_files)} "
        f"supplier(s) (index {result.index}), review queue {result.review_queue_rows} line(s)."
    )


@main.command()
def summary() -> None:
    """Print the KPI summary of the published serving database."""
    from returnlens.summary import kpi_summary

    serving = settings().serving
    if not serving.exists():
        click.echo(f"No serving database at {serving}: run `make run` first.", err=True)
        sys.exit(1)
    click.echo(kpi_summary(serving))


@main.command()
@click.option(
    "--serving",
    type=click.Path(path_type=Path),
    default=None,
    help="Serving database (default: the published one, RETURNLENS_SERVING).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--compare",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A JSON result of another run: report the marts that differ and exit 1 if any do.",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="TABLE[.COLUMN]",
    help="Leave a table or a column out (repeatable).",
)
@click.option(
    "--ignore-run-metadata",
    is_flag=True,
    help="Leave out the columns that identify or time the run, the load and the publish "
    "(publish_log, publish_gate_results and rpt_load_audit ids and times).",
)
@click.option(
    "--double-decimals",
    type=int,
    default=None,
    help="Round DOUBLE/FLOAT values to this many decimals (e.g. 9) before hashing, so that the "
    "last-bit noise of parallel sums compares equal; exact by default.",
)
def checksums(
    serving: Path | None,
    as_json: bool,
    compare: Path | None,
    ignore: tuple[str, ...],
    ignore_run_metadata: bool,
    double_decimals: int | None,
) -> None:
    """Row count and an order-independent checksum of every published mart.

    Compare two runs: `returnlens checksums --ignore-run-metadata --json > a.json` after one,
    `returnlens checksums --ignore-run-metadata --compare a.json` after the other (same PII
    salt: customer keys are salted). Exit 1 when a mart differs, 2 when they cannot be compared.
    """
    from returnlens.checksums import ChecksumError, MartChecksums, differences, mart_checksums

    try:
        result = mart_checksums(
            serving or settings().serving,
            ignore,
            run_metadata=ignore_run_metadata,
            double_decimals=double_decimals,
        )
        found = (
            differences(result, MartChecksums.from_json(compare.read_text()))
            if compare is not None
            else []
        )
    except ChecksumError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(result.to_json() if as_json else result.format())
    if compare is None:
        return
    if found:
        click.echo(f"{len(found)} mart(s) differ from {compare}:", err=True)
        for line in found:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(f"all {len(result.tables)} marts equal to {compare}", err=as_json)


@main.command(name="docs-contracts")
def docs_contracts() -> None:
    """Rewrite docs/contracts/*.md from the landing contracts."""
    from returnlens.docs import write_contract_docs

    for path in write_contract_docs():
        click.echo(f"wrote {path}")


@main.command()
@click.option("--landing", type=click.Path(path_type=Path), default=None, help="Landing folder.")
def load(landing: Path | None) -> None:
    """Load new or changed landing files into raw (no dbt, no publish)."""
    from returnlens.ingest.loader import load_all
    from returnlens.warehouse import connect

    landing = landing or settings().landing_dir
    con = connect()
    try:
        results = load_all(con, landing)
    finally:
        con.close()
    click.echo(results.format())
    if any(f.status == "failed" for r in results for f in r.files):
        sys.exit(1)


@main.group()
def quarantine() -> None:
    """Quarantined rows and files: list them, replay them after a fix."""


@quarantine.command(name="list")
@click.option("--entity", default=None, help="Only this entity (raw table name).")
def quarantine_list(entity: str | None) -> None:
    """Quarantined rows per entity, file and reason; files that failed whole."""
    from returnlens.ingest.quarantine import summary
    from returnlens.warehouse import connect

    con = connect()
    try:
        click.echo(summary(con, entity).format())
    finally:
        con.close()


@quarantine.command(name="replay")
@click.option("--entity", default=None, help="Only this entity (raw table name).")
@click.option("--file", "source_file", default=None, help="Only rows of this landing file.")
def quarantine_replay(entity: str | None, source_file: str | None) -> None:
    """Re-check quarantined rows against the current contract; move those that pass into raw."""
    from returnlens.ingest.quarantine import replay
    from returnlens.warehouse import connect

    con = connect()
    try:
        res = replay(con, entity, source_file)
    finally:
        con.close()
    if not res.moved:
        click.echo("Nothing to replay.")
    for name, moved in res.moved.items():
        click.echo(
            f"raw.{name}: {moved:,} rows moved into raw, "
            f"{res.still_quarantined[name]:,} still quarantined"
        )


@main.command(name="forget-customer")
@click.argument("customer_id")
@click.option(
    "--scrub-landing",
    is_flag=True,
    help="Also replace the customer's PII in the landing files by tombstones.",
)
def forget_customer(customer_id: str, scrub_landing: bool) -> None:
    """Erase a customer's personal data in raw and keep it erased on later loads.

    Exit status 0 when the customer was found (erased now, or already erased), 1 when the id
    is found nowhere (the request is recorded all the same), 2 for an empty id.
    """
    from returnlens.config import PiiSaltError, format_bytes
    from returnlens.ingest.compaction import CompactionError
    from returnlens.ingest.privacy import (
        forget_customer_and_compact,
        not_scrubbed_advice,
        validate_customer_id,
    )

    try:
        validate_customer_id(customer_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    landing = settings().landing_dir if scrub_landing else None
    try:  # its own connection, closed before the warehouse file is compacted
        res = forget_customer_and_compact(customer_id, landing_dir=landing)
    except (PiiSaltError, CompactionError) as exc:
        raise click.ClickException(str(exc)) from exc
    recorded = f"recorded as {res.customer_hash[:12]}... in raw.forgotten_customers"
    if not res.known:
        click.echo(
            f"No customer with this id in raw or in quarantine: nothing was erased. The request "
            f"is {recorded}, so a later delivery holding the id is erased when it loads. "
            "Check the id (it must match the shop's export exactly).",
            err=True,
        )
        sys.exit(1)
    lines = [f"  raw.{t}: {n} row(s) of personal data" for t, n in res.rows_erased.items() if n]
    lines += [f"  raw.{t}: {n} free text(s)" for t, n in res.free_texts_erased.items() if n]
    if res.quarantined_records_erased:
        lines.append(f"  quarantine: {res.quarantined_records_erased} record(s)")
    if lines:
        click.echo(f"Erased the customer's personal data ({recorded}):")
        for line in lines:
            click.echo(line)
    else:
        click.echo(
            "This customer was already erased in raw: nothing left to erase "
            f"({'request already ' + recorded if res.already_forgotten else recorded})."
        )
    if res.compaction:
        c = res.compaction
        click.echo(
            f"  the warehouse file was compacted, no erased value is left in its bytes: "
            f"{format_bytes(c.bytes_before)} -> {format_bytes(c.bytes_after)} in {c.seconds:.1f} s"
        )
    for path in res.landing_files_scrubbed:
        click.echo(f"  scrubbed landing file {path}")
    for path in res.landing_files_not_scrubbed:
        click.echo(f"  NOT scrubbed: {not_scrubbed_advice(path)}", err=True)
    click.echo("The next run publishes without it (serving never holds PII).")


@main.command(name="check-landing")
@click.argument("landing", type=click.Path(path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_landing_command(landing: Path | None, as_json: bool) -> None:
    """Dry run over a landing folder: per file rows, would load, would be quarantined and why.

    Runs the real loader into a temp database; the warehouse is never touched. Exits 1 when a
    file would fail or is not recognised.
    """
    from returnlens.ingest.check import check_landing

    landing = landing or settings().landing_dir
    try:
        result = check_landing(landing)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.to_json() if as_json else result.format())
    if not result.ok:
        sys.exit(1)


@main.command(name="lint-dbt")
@click.option(
    "--project-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The dbt project (default: this repository's).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures as JSON to this file.",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build the empty warehouse and the artifacts here and keep them (default: a temp "
    "folder, removed).",
)
def lint_dbt_command(
    project_dir: Path | None, json_path: Path | None, work_dir: Path | None
) -> None:
    """Score the dbt metadata (dbt-score) and measure docs and test coverage (dbt-coverage).

    Builds the project into an empty warehouse in a temp folder (no `make run` needed; the
    warehouse and target/ are not touched). Exits 1 when a threshold is not met, 2 when the
    empty build fails.
    """
    from returnlens.config import PROJECT_ROOT
    from returnlens.lint import DbtBuildError, lint_dbt

    try:
        if work_dir:
            work_dir.mkdir(parents=True, exist_ok=True)
        result = lint_dbt(project_dir or PROJECT_ROOT, work_dir)
    except DbtBuildError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if json_path:
        json_path.write_text(result.to_json(), encoding="utf-8")
    click.echo(result.format(), err=bool(result.failures))
    sys.exit(1 if result.failures else 0)


@main.command(name="docs-site")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    envvar="RETURNLENS_DOCS_PORT",
    default=8080,
    show_default=True,
    help="Port on 127.0.0.1 (env RETURNLENS_DOCS_PORT).",
)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve after building.")
@click.option(
    "--project-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The dbt project (default: this repository's).",
)
@click.option(
    "--target-path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the site (default: target/docs).",
)
def docs_site(port: int, serve: bool, project_dir: Path | None, target_path: Path | None) -> None:
    """Generate the dbt docs site of the built warehouse (lineage, exposures) and serve it."""
    import subprocess

    from returnlens.config import PROJECT_ROOT
    from returnlens.dbt_docs import DocsSiteError, generate, serve_command

    project_dir = (project_dir or PROJECT_ROOT).resolve()
    try:
        target = generate(project_dir, target_path.resolve() if target_path else None)
    except DocsSiteError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"dbt docs site of {settings().warehouse} written to {target}")
    if not serve:
        return
    click.echo(f"==> dbt docs on http://127.0.0.1:{port} (Ctrl-C stops it)", nl=True)
    sys.stdout.flush()
    try:
        code = subprocess.run(serve_command(target, port, project_dir), check=False).returncode
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
