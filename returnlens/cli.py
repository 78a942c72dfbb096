"""The `returnlens` command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from returnlens.config import settings


@click.group()
def main() -> None:
    """Returnlens: a returns warehouse for web shops."""


@main.command()
@click.option("--seed", default=42, show_default=True, help="Random seed; same seed, same bytes.")
@click.option("--scale", default=1.0, show_default=True, help="1 = a year, ~150k order lines.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Landing folder.")
@click.option("--dirty", is_flag=True, help="Add realistic dirt (duplicates, orphans, gaps).")
def generate(seed: int, scale: float, out: Path | None, dirty: bool) -> None:
    """Write the demo shop's landing files and its ground truth."""
    from returnlens.demo.generator import generate as run_generator

    out = out or settings().landing_dir
    started = time.perf_counter()
    summary = run_generator(out, seed=seed, scale=scale, dirty=dirty)
    elapsed = time.perf_counter() - started
    rows = summary.get("rows", summary)
    click.echo(f"demo shop written to {out} in {elapsed:.1f} s")
    if isinstance(rows, dict):
        for name, count in rows.items():
            if isinstance(count, int):
                click.echo(f"  {name:<20} {count:>12,}")


@main.command()
@click.option("--seed", default=42, show_default=True, help="Seed for the demo shop if generated.")
@click.option(
    "--scale", default=1.0, show_default=True, help="Scale of the demo shop if generated."
)
def run(seed: int, scale: float) -> None:
    """Run the main job: (generate the demo shop if no data), load, build, check, publish."""
    from returnlens.pipeline import has_landing_data, run_main_job
    from returnlens.summary import kpi_summary

    cfg = settings()
    started = time.perf_counter()
    if not has_landing_data(cfg.landing_dir):
        click.echo(
            f"No landing data in {cfg.landing_dir}: generating the demo shop (scale {scale})."
        )
        from returnlens.demo.generator import generate as run_generator

        run_generator(cfg.landing_dir, seed=seed, scale=scale)
    click.echo("Running the main job (ingest -> dbt build -> quality gates -> publish) ...")
    result = run_main_job()
    elapsed = time.perf_counter() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        click.echo(
            f"\nThe main job FAILED after {elapsed:.0f} s (failed steps: {failed}).", err=True
        )
        click.echo("Nothing was published; the last good serving database is unchanged.", err=True)
        sys.exit(1)
    click.echo(f"\nThe main job succeeded in {elapsed:.0f} s.\n")
    click.echo(kpi_summary(cfg.serving))


@main.command()
def summary() -> None:
    """Print the KPI summary of the published serving database."""
    from returnlens.summary import kpi_summary

    serving = settings().serving
    if not serving.exists():
        click.echo(f"No serving database at {serving}: run `make run` first.", err=True)
        sys.exit(1)
    click.echo(kpi_summary(serving))


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
        for res in load_all(con, landing):
            click.echo(
                f"raw.{res.entity:<20} files loaded {res.count('loaded')}, unchanged "
                f"{res.count('unchanged')}, failed {res.count('failed')}; rows loaded "
                f"{res.rows_loaded:,}, quarantined {res.rows_quarantined:,}"
            )
            for f in res.files:
                if f.status == "failed":
                    click.echo(f"  FAILED {f.error}", err=True)
    finally:
        con.close()


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
    from returnlens.config import PiiSaltError
    from returnlens.ingest.privacy import forget_customer as forget
    from returnlens.ingest.privacy import validate_customer_id
    from returnlens.warehouse import connect

    try:
        validate_customer_id(customer_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    cfg = settings()
    con = connect()
    try:
        res = forget(con, customer_id, landing_dir=cfg.landing_dir if scrub_landing else None)
    except PiiSaltError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        con.close()
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
        if res.tables_rewritten:
            click.echo(
                "  the warehouse file's freed space was overwritten "
                f"({', '.join(res.tables_rewritten)} rewritten)"
            )
    else:
        click.echo(
            "This customer was already erased in raw: nothing left to erase "
            f"({'request already ' + recorded if res.already_forgotten else recorded})."
        )
    for path in res.landing_files_scrubbed:
        click.echo(f"  scrubbed landing file {path}")
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


if __name__ == "__main__":
    main()
