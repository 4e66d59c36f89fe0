"""Alembic's migrations and the model registry they are checked against (`migrations.models`)."""
