"""Measurements of drctl on the offline twin (not tests): `uv run python -m bench` writes bench/RESULTS.md."""
