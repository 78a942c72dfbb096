"""Helpers for integration tests that run the real pipeline in their own folders: the
environment a module's runs use, and the landing sensor ticked as the Dagster daemon would."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg


@contextmanager
def environment(names: Sequence[str], **values: str) -> Iterator[None]:
    """Unset every variable of `names`, set `values` (each one of `names`) for the block, and
    restore all of `names` as they were afterwards, also when the block fails."""
    assert set(values) <= set(names), f"{sorted(set(values) - set(names))} not restored"
    saved = {k: os.environ.get(k) for k in names}
    for k in names:
        os.environ.pop(k, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class SensorTicks:
    """Evaluate a sensor one tick after another, carrying its cursor from tick to tick."""

    def __init__(self, instance: dg.DagsterInstance, definitions: dg.Definitions, name: str):
        self.instance, self.definitions, self.name = instance, definitions, name
        self.sensor = definitions.resolve_sensor_def(name)
        self.cursor: str | None = None

    def __call__(self):
        ctx = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            definitions=self.definitions,
            sensor_name=self.name,
        )
        data = self.sensor.evaluate_tick(ctx)
        if data.cursor is not None:
            self.cursor = data.cursor
        return data
