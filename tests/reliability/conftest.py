from __future__ import annotations

import sys
from pathlib import Path

# tests/ on the path so that ``datagen`` and ``reliability.*`` import the same way from the
# trials script (benchmarks/trials.py) and from pytest.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
