"""The purchasing source: suppliers.csv and batches.csv."""

from __future__ import annotations

import pyarrow as pa

from returnlens.demo.sources.files import CSV_OPTS, Writer, dictionary
from returnlens.demo.timeline import DAY0


def write_purchasing(wr: Writer, cat) -> None:
    """The suppliers and the production batches."""
    out = wr.out
    t = pa.table(
        {
            "id": pa.array(cat.sup_ids),
            "name": pa.array(cat.sup_names),
            "country": pa.array(cat.sup_country),
            "lead": cat.sup_lead,
        }
    )
    wr.copy(
        t,
        "select id as supplier_id, name as supplier_name, country as country_code, "
        "cast(lead as integer) as lead_time_days from src order by supplier_id",
        out / "purchasing" / "suppliers.csv",
        CSV_OPTS,
        "suppliers",
    )
    t = pa.table(
        {
            "id": pa.array(cat.b_code),
            "prod": dictionary(cat.b_prod, cat.p_code),
            "sup": dictionary(cat.p_sup[cat.b_prod], cat.sup_ids),
            "day": (DAY0 + cat.b_day).astype("datetime64[D]"),
            "units": cat.b_units,
        }
    )
    wr.copy(
        t,
        "select id as batch_id, cast(prod as varchar) as product_id, "
        "cast(sup as varchar) as supplier_id, day as received_date, "
        "cast(units as integer) as units_received from src order by batch_id",
        out / "purchasing" / "batches.csv",
        CSV_OPTS,
        "production_batches",
    )
