"""Opinion groups from votes (placeholder docstring, rewritten below)."""

from clustering.pipeline import Analysis, Options, analyze

__all__ = ["Analysis", "Options", "analyze"]
