"""Renderers: rich for people (status_screen), JSON for machines (status_json)."""
