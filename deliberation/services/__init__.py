"""Writes. Each function validates and authorises before it mutates anything."""
