"""Import a submodule of an installed package without running the package's ``__init__``.

Two face backends need this: ``import mediapipe`` imports its drawing helpers, which import
matplotlib (not a dependency of ours), and ``import facenet_pytorch`` loads its training
utilities and the 100 MB-class recogniser's module when all we want is MTCNN. Registering the
package as a bare module whose ``__path__`` is the installed folder lets Python import just
the submodules asked for; the package's own ``__init__`` is never run in this process then
(a later plain ``import mediapipe`` returns the bare package).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from types import ModuleType


def package_folder(name: str) -> Path | None:
    """Where the installed package ``name`` keeps its files, found without importing it
    (None when it is not installed)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bare_package(name: str) -> bool:
    """Register package ``name`` without executing its ``__init__``; False when not installed."""
    if name in sys.modules:
        return True
    parent, _, _ = name.rpartition(".")
    if parent and not bare_package(parent):
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    module = types.ModuleType(name)
    module.__path__ = list(spec.submodule_search_locations)
    module.__spec__ = spec
    module.__package__ = name
    sys.modules[name] = module
    return True


def import_inside(package: str, module: str) -> ModuleType:
    """``package.module`` imported with ``package`` (and the folders between) kept bare."""
    parts = module.split(".")
    for i in range(len(parts)):
        bare_package(".".join([package, *parts[:i]]))
    return importlib.import_module(f"{package}.{module}")
