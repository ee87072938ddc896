"""Imports every module that declares jobs, so each process knows every job kind.

Every ``perch.server.<domain>.tasks`` module is discovered; nothing to register by hand.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import perch.server


def task_modules() -> list[str]:
    names = ["perch.server.worker.system"]
    for info in sorted(pkgutil.iter_modules(perch.server.__path__), key=lambda m: m.name):
        if info.ispkg and _has_module(info.name, "tasks"):
            names.append(f"perch.server.{info.name}.tasks")
    return names


def _has_module(package: str, module: str) -> bool:
    return importlib.util.find_spec(f"perch.server.{package}.{module}") is not None


def load_all() -> None:
    for name in task_modules():
        importlib.import_module(name)
