"""Benchmarks (`make bench-*`) and what only they use: their arguments, Li & Lim's instance format and the seeded
instance generators (`bench/instances/`). Not part of the product: nothing outside bench/, loadtests/ and tests/
imports it."""
