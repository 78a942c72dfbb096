"""The demo shop's writers: one module per source folder of the landing zone.

`shop` (products, customers, order lines, orders), `purchasing` (suppliers, batches),
`returns`, `surveys`, `planning` (forecasts, Parquet) and `web` (events, JSON lines; Parquet
from scale 5). Each turns the arrays of the world model (`returnlens.demo.model`) into the files
the landing contracts describe; ids, timestamps and amounts are formatted by DuckDB
(`files.Writer`) or, for the events, by numpy and Arrow, so a seed always gives the same bytes. Dirty mode draws its
defects from one generator, in the order `returnlens.demo.generator` calls the writers.
"""
