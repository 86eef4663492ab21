"""Rendering: one sandboxed Jinja environment, a registry of what each role gets, and an
atomic, deterministic, incremental writer with a manifest of hashes."""
