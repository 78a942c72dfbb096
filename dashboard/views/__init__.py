"""The dashboard's pages; each module's query functions are importable (benchmarks, tests)."""
