from __future__ import annotations

from qdrant_ops.cli import main

main()
