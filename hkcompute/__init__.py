"""hkcompute: plan, check, configure and bring up a large AI computing centre, phase by phase."""

__version__ = "0.1.0"
