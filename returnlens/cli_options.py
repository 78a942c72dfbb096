"""What the `returnlens` commands share: the command group, which turns running out of memory
into a message without a traceback, and the options of `returnlens run` for the incremental
models (full refresh and backfill)."""

from __future__ import annotations

import datetime as dt

import click

from returnlens.incremental import BackfillError, backfill_vars
from returnlens.warehouse import MemoryBudgetExceeded


class CommandGroup(click.Group):
    """A command group whose commands, when DuckDB runs out of memory, print the message (it
    names the step, the file and the memory setting to change) and exit 1, without a traceback:
    what `returnlens run` prints for a failed step."""

    def invoke(self, ctx: click.Context):
        """Run the command; out of memory becomes click's error message and exit status 1."""
        try:
            return super().invoke(ctx)
        except MemoryBudgetExceeded as exc:
            raise click.ClickException(str(exc)) from exc


def incremental_options(command):
    """--full-refresh, --backfill-start and --backfill-end (docs/operations.md)."""
    options = [
        click.option(
            "--full-refresh",
            is_flag=True,
            help="Rebuild the incremental models (the web journeys) from scratch instead of "
            "adding the new days (docs/operations.md).",
        ),
        click.option(
            "--backfill-start",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="With --backfill-end: build the journeys of the orders of these dates "
            "(inclusive) again from the current landing data, e.g. after a corrected web "
            "events file: from its first event date to its last plus the 30-day look-back "
            "(docs/operations.md).",
        ),
        click.option(
            "--backfill-end",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="Last order date of the backfill (inclusive).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_options(full_refresh: bool, start: dt.datetime | None, end: dt.datetime | None) -> dict:
    """`run_main_job`'s arguments for the options: full_refresh, and the backfill's first and
    last date as ISO strings (None without one); a usage error for a half or reversed range,
    or one beside --full-refresh."""
    first = start.date().isoformat() if start else None
    last = end.date().isoformat() if end else None
    try:
        backfill_vars(first, last)
    except BackfillError as exc:
        raise click.UsageError(str(exc)) from exc
    if full_refresh and first:
        raise click.UsageError(
            "--full-refresh rebuilds every date already: leave out --backfill-start and "
            "--backfill-end."
        )
    return {"full_refresh": full_refresh, "backfill_start": first, "backfill_end": last}
