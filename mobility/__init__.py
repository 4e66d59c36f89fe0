"""Shared micro-mobility: vehicles and their MDS state machine, telemetry, geofences, rides, GBFS and MDS feeds."""
