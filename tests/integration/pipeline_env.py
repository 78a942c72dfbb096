"""The landing sensor ticked as the Dagster daemon would, for integration tests that run the real
pipeline in their own folders (their environment: `returnlens.config.environment`)."""

from __future__ import annotations

import dagster as dg


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
