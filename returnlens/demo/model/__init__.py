"""The demo shop's world model: what happens in the simulated year, as numpy arrays.

One module per source of the landing zone: `purchasing` (suppliers, production batches),
`catalog` and `customers` and `orders` (the shop's products, customers, orders and lines),
`returns` (the return probability of each line and the returns drawn from it), `surveys`,
`web` (sessions and events) and `planning` (demand forecasts). Each draws from the parameters
in `returnlens.demo.world`, shaped by a shop profile (`returnlens.demo.shape`), with the random
generator of its source; nothing here writes a file (`returnlens.demo.sources` does) or states
a planted fact (`returnlens.demo.truth` does).
"""
