"""Landing contracts: what each source delivers, in one machine-readable place.

The loader enforces these contracts, the demo generator writes files that satisfy them, and
`docs/contracts/<source>.md` is rendered from them (`returnlens docs-contracts`), so the three
cannot drift apart.

Size: the one list of every landing entity and its columns; split across modules, the loader,
the generator and the docs would have to assemble it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One column of a landing entity."""

    name: str
    type: str  # DuckDB type the column is loaded as
    description: str
    required: bool = True  # a null or empty value quarantines the row
    allowed: tuple[str, ...] | None = None  # closed set of values (enums)
    min_value: float | None = None  # inclusive lower bound for numbers
    min_exclusive: bool = False  # min_value itself is out too (a rate must be above 0)
    pii: bool = False  # personal data: stays in raw only


# json: a platform's API response, flattened by its adapter (returnlens/adapters/)
FORMATS = ("csv", "jsonl", "parquet", "xlsx", "json")
# cp1252 (Windows-1252, what Excel on Windows saves as "CSV") is transcoded to UTF-8 by the
# loader (DuckDB's read_csv has no such encoding without an extension); the others are native.
ENCODINGS = ("utf-8", "latin-1", "cp1252", "utf-16")
DELIMITERS = (",", ";", "\t", "|")
DECIMAL_SEPARATORS = (".", ",")
THOUSANDS_SEPARATORS = (None, ".", ",", " ", "'")


@dataclass(frozen=True)
class FileSpec:
    """One way files of an entity arrive: a glob, a format and, for text formats, a dialect.

    The dialect (encoding, delimiter, decimal and thousands separators, date and timestamp
    formats) defaults to what the contracts promise: UTF-8, comma-separated, `.` decimals, no
    thousands separators, ISO dates (`YYYY-MM-DD`) and timestamps (`YYYY-MM-DD HH:MM:SS`). A shop
    profile may declare another dialect per delivery, e.g. a Dutch Excel export:
    `FileSpec("orders_*.csv", "csv", "cp1252", delimiter=";", decimal_separator=",",
    thousands_separator=".", date_format="%d-%m-%Y")`. Numbers are then read exactly under the
    dialect ("1.253,50" is 1253.50; a thousands separator must sit between groups of three).
    A CSV delivery whose dialect is not declared (`declared=False`) is read with whatever the
    loader can detect unambiguously (`returnlens/ingest/dialect.py`), else it fails whole with
    the setting to declare.
    """

    pattern: str  # glob relative to landing/<source>/
    format: str  # csv | jsonl | parquet | xlsx
    encoding: str = "utf-8"  # csv and jsonl only
    delimiter: str = ","  # csv only
    decimal_separator: str = "."  # numbers in csv, jsonl and xlsx text
    thousands_separator: str | None = None  # None: digits are never grouped
    date_format: str | None = None  # strptime format of date columns; None: ISO YYYY-MM-DD
    timestamp_format: str | None = None  # of timestamp columns; None: ISO YYYY-MM-DD HH:MM:SS
    declared: bool = False  # the dialect was declared (shop profile); False: the contracts' default

    def __post_init__(self) -> None:
        """Reject formats, encodings and dialects the loader cannot honour."""
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} not one of {FORMATS}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding {self.encoding!r} not one of {ENCODINGS}")
        if self.delimiter not in DELIMITERS:
            raise ValueError(f"delimiter {self.delimiter!r} not one of {DELIMITERS}")
        if self.decimal_separator not in DECIMAL_SEPARATORS:
            raise ValueError(
                f"decimal separator {self.decimal_separator!r} not one of {DECIMAL_SEPARATORS}"
            )
        if self.thousands_separator not in THOUSANDS_SEPARATORS:
            raise ValueError(
                f"thousands separator {self.thousands_separator!r} not one of "
                f"{THOUSANDS_SEPARATORS}"
            )
        if self.thousands_separator == self.decimal_separator:
            raise ValueError("the thousands and decimal separators must differ")

    @property
    def plain_numbers(self) -> bool:
        """True when numbers are written as the contracts' default (`.` decimals, no grouping)."""
        return self.decimal_separator == "." and self.thousands_separator is None


# What a raw row is about, as `raw.retracted_rows` records it when a re-delivery changes or drops
# the row (returnlens/ingest/carry_over.py): enough to find the orders, days and dimensions to
# build again, no personal data. A customer is recorded only as the salted hash the facts key
# customers by (`customer_hash`, macros/hash_customer_id.sql); `event_date` is the date of the
# row's event (order, request, answer, rate...). A customer's e-mail is recorded only as the
# salted pseudonym an order keyed by that e-mail carries as its customer_id
# (`email_customer_id`, macros/customer_ids_by_email.sql): a changed or erased e-mail changes
# which customer such orders resolve to (an e-mail two customers shared resolves again).
RETRACTED_AFFECTS = (
    "order_id",
    "rma_id",
    "response_id",
    "sku",
    "batch_id",
    "customer_hash",
    "currency",
    "event_date",
    "email_customer_id",
)

# Entities whose customer_id may be an e-mail pseudonym ('email-' + hash, as the adapter of
# Shopify's admin order export writes it) that the models resolve to the customer export's
# customer (macros/customer_ids_by_email.sql): the hash of the delivered id is then not the
# facts' customer_key, so such an entity names the order its rows belong to instead, and the
# change log (models/staging/loader/stg_loader__changed_orders.sql) finds the order's customer
# in the facts it built before.
CUSTOMER_RESOLVED_BY_EMAIL = ("orders",)


@dataclass(frozen=True)
class Entity:
    """One entity of a source: a set of files with the same columns, loaded into raw.<table>."""

    source: str
    name: str  # table name in the raw schema
    pattern: str  # glob relative to landing/<source>/ (the main delivery)
    format: str  # csv | jsonl | parquet | xlsx
    key: tuple[str, ...]
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    encoding: str = "utf-8"  # of the main delivery (csv, jsonl): see ENCODINGS
    also: tuple[FileSpec, ...] = ()  # other deliveries of the same rows, e.g. an Excel export
    # dialect of the main delivery (see FileSpec); the defaults are the contracts' promise
    delimiter: str = ","
    decimal_separator: str = "."
    thousands_separator: str | None = None
    date_format: str | None = None
    timestamp_format: str | None = None
    # a shop may deliver no file of it at all: the run still publishes, the marts that need it
    # are published empty and marts.rpt_source_availability says "not available"
    optional: bool = False
    # the main delivery's dialect was declared in the shop profile (not the contracts' default)
    dialect_declared: bool = False
    # a platform adapter (returnlens/adapters/<name>.py) that flattens the platform's JSON into
    # this entity's columns; None: the files are read as they are (CSV, JSON lines, ...)
    adapter: str | None = None
    # other files of the source folder the adapter joins into these rows (globs, e.g. the
    # Shopify `refund` table for returns): accounted for, not loaded as rows of their own
    reads: tuple[str, ...] = ()
    # what a row of it affects downstream: (column of raw.retracted_rows (RETRACTED_AFFECTS),
    # column of this entity) pairs, recorded for each row a re-delivery changes or removes.
    # Not part of the contract's fingerprint (repr): it does not change how rows are judged.
    affects: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        """Refuse an entity the loader cannot load: no key, or affects naming unknown columns."""
        where = f"{self.source}/{self.name}"
        if not self.key:
            raise ValueError(
                f"{where} has no key: the loader finds duplicate rows and re-delivered rows by "
                "the key; declare the column(s) that identify a row in `key`"
            )
        names = {c.name for c in self.columns}
        for target, column in self.affects:
            if target not in RETRACTED_AFFECTS:
                raise ValueError(
                    f"{where}: affects names {target!r}, not a column of raw.retracted_rows; "
                    f"use one of {RETRACTED_AFFECTS}"
                )
            if column not in names:
                raise ValueError(
                    f"{where}: affects names column {column!r}, which the entity does not have; "
                    "name one of its columns"
                )
            if column != "customer_id" and target == "customer_hash":
                raise ValueError(
                    f"{where}: customer_hash is the hash of customer_id only (the id the facts "
                    f"key customers by), not of {column!r}; declare ('customer_hash', "
                    "'customer_id') if the entity has that id, else declare ('order_id', <its "
                    "order column>): the change log rebuilds the order and finds its customer "
                    "in the facts"
                )
            if target == "customer_hash" and self.name in CUSTOMER_RESOLVED_BY_EMAIL:
                raise ValueError(
                    f"{where}: customer_hash is the hash of customer_id only where it is the "
                    f"customer's id, and the customer_id of {self.name} may be an e-mail "
                    "pseudonym the models resolve through the customers (the facts' "
                    "customer_key is then another hash); declare ('order_id', 'order_id') "
                    "instead: the change log rebuilds the order and finds its customer in the "
                    "facts"
                )
            if target == "email_customer_id" and column != "email":
                raise ValueError(
                    f"{where}: email_customer_id is the pseudonym of the e-mail column only "
                    f"(the customer_id an order keyed by that e-mail carries), not of {column!r}"
                )
            if target != "email_customer_id" and any(
                c.pii for c in self.columns if c.name == column
            ):
                raise ValueError(
                    f"{where}: affects names {column!r}, personal data; raw.retracted_rows "
                    "holds none"
                )

    @property
    def table(self) -> str:
        """Fully qualified raw table name."""
        return f"raw.{self.name}"

    @property
    def file_specs(self) -> tuple[FileSpec, ...]:
        """Every accepted delivery: the main one first, then `also`."""
        main = FileSpec(
            self.pattern,
            self.format,
            self.encoding,
            self.delimiter,
            self.decimal_separator,
            self.thousands_separator,
            self.date_format,
            self.timestamp_format,
            self.dialect_declared,
        )
        return (main, *self.also)

    @property
    def pii_columns(self) -> list[str]:
        """Columns holding personal data (erased by `forget-customer`)."""
        return [c.name for c in self.columns if c.pii]

    @property
    def required_columns(self) -> list[str]:
        """Columns that must be present and non-null."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        """Look a column up by name."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.source}/{self.name} has no column {name!r}")


# Countries whose postal codes are all digits of one length and may start with 0: a shorter
# all-digit code lost its leading zero(s) when a spreadsheet read it as a number (01067 -> 1067).
POSTAL_CODE_DIGITS = {"DE": 5, "FR": 5, "IT": 5, "ES": 5, "FI": 5, "US": 5, "DK": 4, "NO": 4}

CATEGORIES = ("apparel", "shoes", "home", "garden", "electronics")
CHANNELS = ("web", "app", "marketplace")
DEVICES = ("desktop", "mobile", "tablet")
TRAFFIC_SOURCES = ("direct", "organic_search", "paid_search", "social", "email", "affiliate")
EVENT_TYPES = (
    "session_start",
    "product_view",
    "size_guide_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
)
REASON_CODES = (
    "SIZE_TOO_SMALL",
    "SIZE_TOO_LARGE",
    "DEFECTIVE",
    "DAMAGED_IN_TRANSIT",
    "NOT_AS_DESCRIBED",
    "WRONG_ITEM",
    "CHANGED_MIND",
    "LATE_DELIVERY",
    "OTHER",
)
CONDITION_GRADES = ("as_new", "opened", "worn", "damaged", "empty_box")
DISPOSITIONS = ("restock", "refurbish", "return_to_supplier", "liquidate", "destroy")
RESOLUTIONS = ("refund", "exchange", "store_credit", "keep_it")
TOUCHPOINTS = ("post_delivery", "post_return")
INTERVENTION_SCOPES = ("all", "category", "supplier", "product")

ENTITIES: tuple[Entity, ...] = (
    Entity(
        source="shop",
        name="customers",
        pattern="customers*.csv",
        format="csv",
        key=("customer_id",),
        # the e-mail as its salted pseudonym only (RETRACTED_AFFECTS)
        affects=(("customer_hash", "customer_id"), ("email_customer_id", "email")),
        description="Customer accounts from the shop system. Holds personal data (PII).",
        columns=(
            Column("customer_id", "varchar", "Shop's customer number, e.g. C0000042."),
            Column("first_name", "varchar", "First name.", pii=True),
            Column("last_name", "varchar", "Last name.", pii=True),
            Column("email", "varchar", "E-mail address.", pii=True),
            Column("phone", "varchar", "Phone number.", required=False, pii=True),
            Column("street", "varchar", "Street and house number.", pii=True),
            Column("postal_code", "varchar", "Postal code.", pii=True),
            Column("city", "varchar", "City.", pii=True),
            Column("country_code", "varchar", "ISO 3166 alpha-2 country (value set `country`)."),
            Column("created_at", "timestamp", "When the account was created (UTC)."),
        ),
    ),
    Entity(
        source="shop",
        name="products",
        pattern="products*.csv",
        format="csv",
        key=("sku",),
        affects=(("sku", "sku"),),
        description="Product variants (one row per sku: product x size x colour).",
        columns=(
            Column("sku", "varchar", "Stock keeping unit of the variant, e.g. AP00012-M-BLK."),
            Column("product_id", "varchar", "Product (style) the variant belongs to."),
            Column("product_name", "varchar", "Product name as shown in the shop."),
            Column("category", "varchar", "Product category (value set `category`)."),
            Column("subcategory", "varchar", "Subcategory, e.g. dresses, ceramics, glass."),
            Column("size", "varchar", "Size label; 'one-size' where sizes do not apply."),
            Column("colour", "varchar", "Colour."),
            Column("supplier_id", "varchar", "Supplier who makes the product."),
            Column(
                "list_price_eur",
                "decimal(10,2)",
                "Current list price in EUR incl. VAT.",
                min_value=0,
            ),
            Column("unit_cost_eur", "decimal(10,2)", "Purchase cost per unit in EUR.", min_value=0),
            Column("weight_g", "integer", "Shipping weight in grams.", required=False, min_value=0),
        ),
    ),
    Entity(
        source="shop",
        name="orders",
        pattern="orders_*.csv",
        format="csv",
        key=("order_id",),
        # no customer_hash: customer_id may be an e-mail pseudonym (CUSTOMER_RESOLVED_BY_EMAIL)
        affects=(
            ("order_id", "order_id"),
            ("currency", "currency"),
            ("event_date", "ordered_at"),
        ),
        description="Orders, one file per month of order date.",
        columns=(
            Column("order_id", "varchar", "Order number."),
            Column("customer_id", "varchar", "Customer who ordered."),
            Column("session_id", "varchar", "Web session that ended in the order.", required=False),
            Column("ordered_at", "timestamp", "When the order was placed (UTC)."),
            Column("channel", "varchar", "Sales channel (value set `channel`)."),
            Column("shipping_country", "varchar", "Country shipped to (value set `country`)."),
            Column(
                "shipped_at", "timestamp", "When the parcel left the warehouse.", required=False
            ),
            Column("delivered_at", "timestamp", "When the carrier delivered it.", required=False),
            Column(
                "order_total_eur",
                "decimal(12,2)",
                "Amount paid incl. VAT, in the order's `currency` (the `_eur` suffix is historic: "
                "the reporting currency, or converted from `currency` by dbt).",
                min_value=0,
            ),
            Column(
                "currency",
                "varchar",
                "ISO 4217 currency of the order's amounts (its total, its lines' prices and "
                "discounts, its returns' refunds; value set `currency`); empty: the shop's "
                "reporting currency. Another currency must be listed in values.currency of the "
                "shop profile (else quarantined); dbt converts its amounts with exchange_rates.",
                required=False,
            ),
        ),
    ),
    Entity(
        source="shop",
        name="order_lines",
        pattern="order_lines_*.csv",
        format="csv",
        key=("order_line_id",),
        affects=(("order_id", "order_id"), ("sku", "sku"), ("batch_id", "batch_id")),
        description="Order lines with the production batch shipped, one file per month.",
        columns=(
            Column("order_line_id", "varchar", "Order line id (order id + line number)."),
            Column("order_id", "varchar", "Order the line belongs to."),
            Column("line_number", "integer", "Position in the order, from 1.", min_value=1),
            Column("sku", "varchar", "Variant ordered."),
            Column("quantity", "integer", "Units ordered.", min_value=1),
            Column(
                "unit_price_eur",
                "decimal(10,2)",
                "Price paid per unit in EUR incl. VAT.",
                min_value=0,
            ),
            Column("discount_eur", "decimal(10,2)", "Discount on the line in EUR.", min_value=0),
            Column(
                "batch_id",
                "varchar",
                "Production batch the units were picked from.",
                required=False,
            ),
        ),
    ),
    Entity(
        source="web",
        name="web_events",
        optional=True,
        pattern="events_*.jsonl",
        format="jsonl",
        # large clickstreams come as Parquet (the demo generator's format from scale 5)
        also=(FileSpec("events_*.parquet", "parquet"),),
        key=("event_id",),
        affects=(
            ("customer_hash", "customer_id"),
            ("sku", "sku"),
            ("event_date", "event_at"),
        ),
        description=(
            "Clickstream events from the shop's web tracking, JSON lines or Parquet, one file "
            "per month."
        ),
        columns=(
            Column("event_id", "varchar", "Unique event id."),
            Column("session_id", "varchar", "Browser session."),
            Column(
                "customer_id", "varchar", "Customer when logged in or identified.", required=False
            ),
            Column("event_type", "varchar", "What happened.", allowed=EVENT_TYPES),
            Column("event_at", "timestamp", "When it happened (UTC)."),
            Column(
                "sku",
                "varchar",
                "Variant concerned (product, cart and size events).",
                required=False,
            ),
            Column("device", "varchar", "Device class.", allowed=DEVICES),
            Column(
                "traffic_source", "varchar", "Where the session came from.", allowed=TRAFFIC_SOURCES
            ),
        ),
    ),
    Entity(
        source="returns",
        name="returns",
        pattern="returns_*.csv",
        format="csv",
        key=("rma_id", "order_line_id"),
        affects=(
            ("rma_id", "rma_id"),
            ("order_id", "order_id"),
            ("sku", "sku"),
            ("event_date", "requested_at"),
        ),
        description=(
            "Returns portal export: one row per returned order line of a return (RMA). "
            "received_at, inspected_at and refunded_at may be left empty; a shop that fills "
            "neither received_at nor refunded_at on any row gets the processing-time marts "
            '(kpi_return_processing_times) marked "not available: no processing timestamps '
            'delivered", and the state of its returns comes from status, else from their age.'
        ),
        columns=(
            Column("rma_id", "varchar", "Return merchandise authorisation number."),
            Column("order_id", "varchar", "Order the return refers to."),
            Column("order_line_id", "varchar", "Order line returned."),
            Column("sku", "varchar", "Variant returned."),
            Column("quantity", "integer", "Units returned.", min_value=1),
            Column(
                "reason_code",
                "varchar",
                "Portal reason code.",
                required=False,
                allowed=REASON_CODES,
            ),
            Column(
                "reason_text",
                "varchar",
                "Customer's free-text reason, Dutch or English.",
                required=False,
            ),
            Column("requested_at", "timestamp", "When the customer registered the return (UTC)."),
            Column("received_at", "timestamp", "When the warehouse received it.", required=False),
            Column("inspected_at", "timestamp", "When it was inspected.", required=False),
            Column(
                "refunded_at", "timestamp", "When the refund or credit was issued.", required=False
            ),
            Column(
                "condition_grade",
                "varchar",
                "Condition found at inspection.",
                required=False,
                allowed=CONDITION_GRADES,
            ),
            Column(
                "disposition",
                "varchar",
                "What happened to the goods.",
                required=False,
                allowed=DISPOSITIONS,
            ),
            Column(
                "resolution", "varchar", "How the customer was made whole.", allowed=RESOLUTIONS
            ),
            Column(
                "refund_amount_eur",
                "decimal(10,2)",
                "Refunded amount in EUR (0 for exchanges).",
                required=False,
                min_value=0,
            ),
            Column(
                "status",
                "varchar",
                "The portal's own status of the return as exported, any vocabulary (e.g. "
                "requested, received, refunded; aangemeld, terugbetaald; Shopify's REQUESTED, "
                "OPEN, CLOSED, DECLINED, CANCELED; bol.com's handling results; Sendcloud's "
                "parcel statuses). Mapped to open, closed, cancelled or rejected by "
                "seeds/return_status_map.csv; where it is missing or unknown, the timestamps and the "
                "age of the request decide (docs/kpis.md). Unknown values are kept and listed in "
                "marts.rpt_unmapped_return_statuses.",
                required=False,
            ),
        ),
    ),
    Entity(
        source="surveys",
        name="nps_responses",
        optional=True,
        pattern="nps_*.csv",
        format="csv",
        key=("response_id",),
        affects=(
            ("response_id", "response_id"),
            ("order_id", "order_id"),
            ("customer_hash", "customer_id"),
            ("event_date", "responded_at"),
        ),
        description=(
            "NPS survey responses, one file per month; the survey tool's Excel export "
            "(nps_*.xlsx, first sheet, header row) is accepted beside the CSV."
        ),
        also=(FileSpec("nps_*.xlsx", "xlsx"),),
        columns=(
            Column("response_id", "varchar", "Survey response id."),
            Column("customer_id", "varchar", "Customer who answered."),
            Column("order_id", "varchar", "Order the survey was about.", required=False),
            Column("touchpoint", "varchar", "When the survey was sent.", allowed=TOUCHPOINTS),
            Column("responded_at", "timestamp", "When the customer answered (UTC)."),
            Column("score", "integer", "How likely to recommend, 0-10.", min_value=0),
            Column(
                "rating",
                "integer",
                "Star rating 1-5 of the experience.",
                required=False,
                min_value=1,
            ),
            Column("comment", "varchar", "Free-text comment.", required=False),
        ),
    ),
    Entity(
        source="planning",
        name="demand_forecasts",
        optional=True,
        pattern="forecasts_*.parquet",
        format="parquet",
        key=("sku", "week_start_date", "forecast_version"),
        affects=(("sku", "sku"), ("event_date", "week_start_date")),
        description="Weekly gross demand forecasts per sku from the planning tool (Parquet).",
        columns=(
            Column("sku", "varchar", "Variant forecast."),
            Column("week_start_date", "date", "Monday of the forecast week."),
            Column("forecast_version", "varchar", "Forecast run, e.g. 2026-W01."),
            Column("created_date", "date", "When the forecast was made."),
            Column(
                "gross_demand_units",
                "double",
                "Forecast units sold, gross of returns.",
                min_value=0,
            ),
        ),
    ),
    Entity(
        source="purchasing",
        name="suppliers",
        pattern="suppliers*.csv",
        format="csv",
        optional=True,
        key=("supplier_id",),
        # suppliers reach only models rebuilt fully: a retracted row records no more
        affects=(),
        description="Suppliers the shop buys from.",
        columns=(
            Column("supplier_id", "varchar", "Supplier id."),
            Column("supplier_name", "varchar", "Company name."),
            Column("country_code", "varchar", "Country of the supplier (ISO alpha-2)."),
            Column("lead_time_days", "integer", "Usual lead time in days.", min_value=0),
        ),
    ),
    Entity(
        source="purchasing",
        name="production_batches",
        optional=True,
        pattern="batches*.csv",
        format="csv",
        key=("batch_id",),
        affects=(("batch_id", "batch_id"), ("event_date", "received_date")),
        description="Production batches received from suppliers.",
        columns=(
            Column("batch_id", "varchar", "Batch id."),
            Column("product_id", "varchar", "Product produced."),
            Column("supplier_id", "varchar", "Supplier who produced it."),
            Column("received_date", "date", "When the batch arrived at the warehouse."),
            Column("units_received", "integer", "Units in the batch.", min_value=1),
        ),
    ),
    Entity(
        source="interventions",
        name="interventions",
        optional=True,
        pattern="interventions*.csv",
        format="csv",
        key=("intervention_id",),
        affects=(("event_date", "start_date"),),
        description=(
            "Changes the shop made to lower returns (a clearer return form, a fixed size guide, "
            "new packaging), one row each, kept by hand or exported from a change log. "
            "sig_intervention_effects measures each one's effect on the return rate by "
            "difference-in-differences against the scopes it did not touch (docs/kpis.md)."
        ),
        columns=(
            Column("intervention_id", "varchar", "The shop's id of the change."),
            Column(
                "start_date",
                "date",
                "First day the change applied: orders from this day on are treated.",
            ),
            Column(
                "scope_type",
                "varchar",
                "What the change applies to: every order line, one category, one supplier "
                "or one product.",
                allowed=INTERVENTION_SCOPES,
            ),
            Column(
                "scope_value",
                "varchar",
                "The category, supplier_id or product_id (as in the shop's products); empty "
                "when scope_type is all.",
                required=False,
            ),
            Column("kind", "varchar", "Kind of change in the shop's words, e.g. return_form."),
            Column("description", "varchar", "What was changed, in a sentence."),
            Column(
                "target_reason",
                "varchar",
                "The standard return reason the change is meant to reduce "
                "(seeds/reason_taxonomy.csv, e.g. size_too_small); empty when none.",
                required=False,
            ),
        ),
    ),
    Entity(
        source="exchange_rates",
        name="exchange_rates",
        optional=True,
        pattern="exchange_rates*.csv",
        format="csv",
        key=("rate_date", "currency"),
        affects=(("currency", "currency"), ("event_date", "rate_date")),
        description=(
            "Daily exchange rates into the shop's reporting currency (shop.reporting_currency), "
            "one row per day and currency, for orders in another currency (values.currency of "
            "the shop profile). reporting_currency_per_unit is what one unit of `currency` is "
            "worth in the reporting currency. From the ECB's euro reference rates (quoted per "
            "EUR: 1 EUR = x units of the currency): a EUR shop writes 1 / x (SEK at 11.2345 "
            "gives 0.089011526993), a SEK shop writes x_SEK for EUR and x_SEK / x_NOK for NOK; "
            "round to at most 12 decimals. dbt converts each amount of an order with the "
            "latest rate on or before its order date, at most var exchange_rate_max_age_days "
            "(default 7) days old; an order without one blocks the publish "
            "(marts.rpt_currency_conversions, docs/kpis.md). Orders in the reporting "
            "currency need no rate."
        ),
        columns=(
            Column("rate_date", "date", "Day the rate applies from (e.g. the ECB's fixing day)."),
            Column(
                "currency", "varchar", "ISO 4217 code of the currency converted from, e.g. SEK."
            ),
            Column(
                "reporting_currency_per_unit",
                "decimal(18,12)",
                "Value of one unit of `currency` in the reporting currency (at most 12 decimals).",
                min_value=0,
                min_exclusive=True,
            ),
        ),
    ),
)

SOURCES: tuple[str, ...] = tuple(dict.fromkeys(e.source for e in ENTITIES))
OPTIONAL_ENTITIES: tuple[str, ...] = tuple(e.name for e in ENTITIES if e.optional)


def entity(name: str) -> Entity:
    """Look an entity up by its raw table name."""
    for e in ENTITIES:
        if e.name == name:
            return e
    raise KeyError(f"no landing entity named {name!r}; known: {[e.name for e in ENTITIES]}")


def entities_of(source: str) -> list[Entity]:
    """All entities of one source folder."""
    return [e for e in ENTITIES if e.source == source]
