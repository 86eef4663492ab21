"""Acceptance checks derived from the plan, run on real hosts or the lab through testinfra."""
