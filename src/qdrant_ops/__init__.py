"""qdrant-ops: back up, migrate, verify and consolidate Qdrant collections and their code."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
