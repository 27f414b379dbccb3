"""Reads. Selectors never write."""
