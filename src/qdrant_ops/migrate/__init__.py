"""Migration to a new layout: run, plan, transforms, validation, cutover and reports.

``qdrant_ops.migrate`` names both this package and the library's ``migrate`` verb: the import
system binds the package to that name whenever a submodule is first imported, so the package
itself is callable and runs the verb, and ``qdrant_ops.migrate(cfg)`` works in any import order.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from qdrant_ops.migrate.run import migrate

        return migrate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
