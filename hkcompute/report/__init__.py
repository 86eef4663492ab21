"""Presentation of results: findings, tables, runbooks, pictures."""
