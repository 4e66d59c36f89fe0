"""Seeded generators of the benchmarks' instances (matching batches, crew fleets, pick-up ride evenings)."""
