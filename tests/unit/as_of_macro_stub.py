"""dbt's context stubbed for rendering the as-of pre-hooks with Jinja, as dbt renders them
(macros/delete_as_of_crossings.sql, delete_as_of_age_crossings.sql, with the macros they share
in as_of_literal.sql): `this`, `ref`, `run_query` answering the as-of value, `is_incremental`,
`config`, `adapter.dispatch`, `dbt.dateadd` as DuckDB's interval arithmetic, and `return` as
dbt has it (the macro's value, not its text). Shared by their unit tests."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2

MACROS = Path(__file__).resolve().parents[2] / "macros"
THIS_SQL = "marts.fct_x"


class CompilerError(Exception):
    pass


class _Returned(Exception):
    """dbt's `return(value)`: ends the macro; its caller gets the value."""

    def __init__(self, value):
        super().__init__()
        self.value = value


def _return(value):
    raise _Returned(value)


def _returning(macro):
    def call(*args, **kwargs):
        try:
            return macro(*args, **kwargs)
        except _Returned as returned:
            return returned.value

    return call


def _macros_of(env, text):
    module = env.from_string(text).module
    names = [name for name in dir(module) if not name.startswith("_")]
    return {name: _returning(getattr(module, name)) for name in names}


def render_macros(macro_file: str, as_of, *, incremental=True, adapter="duckdb", file_format=None):
    """The macros of `macros/<macro_file>` as callables, and the queries they ran (a list)."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = {}
    queries = []

    def dispatch(name, namespace):
        return module["m"].get(f"{adapter}__{name}") or module["m"][f"default__{name}"]

    def run_query(sql):
        queries.append(sql)
        return SimpleNamespace(rows=[(as_of,)])

    def raise_compiler_error(message):
        raise CompilerError(message)

    env.globals.update(
        this=THIS_SQL,
        ref=lambda name: f"intermediate.{name}",
        run_query=run_query,
        is_incremental=lambda: incremental,
        execute=True,
        modules=SimpleNamespace(datetime=dt, re=re),
        dbt=SimpleNamespace(
            dateadd=lambda part, n, column: f"({column} + interval ({n}) {part})",
            type_string=lambda: "varchar",
        ),
        exceptions=SimpleNamespace(raise_compiler_error=raise_compiler_error),
        adapter=SimpleNamespace(dispatch=dispatch),
        config=SimpleNamespace(get=lambda key, default=None: {"file_format": file_format}.get(key)),
        **{"return": _return},
    )
    env.globals.update(_macros_of(env, (MACROS / "as_of_literal.sql").read_text(encoding="utf-8")))
    module["m"] = _macros_of(env, (MACROS / macro_file).read_text(encoding="utf-8"))
    return SimpleNamespace(**module["m"]), queries
