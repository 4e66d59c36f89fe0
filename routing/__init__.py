"""Vehicle routing for the village enterprise's staff (OR-Tools routing). Pure, like `matching/`: dataclasses in,
dataclasses out; no database, no HTTP."""
