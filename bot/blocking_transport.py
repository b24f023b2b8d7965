"""nio's blocking transport (h11, h2) loaded only if something uses it: ~1.5 MiB (issue 25).

`import nio` imports `nio.http` and `nio.client.http_client`, the HTTP/1.1 and HTTP/2
connections of nio's blocking `HttpClient`, and with them h11, h2, hpack and hyperframe.
The bot talks to its homeserver through `AsyncClient` (aiohttp) and never builds one; both
modules touch the libraries only inside functions (their annotations are strings), so a
lazy module in their place costs nothing until an attribute is read, which then loads the
real library as a plain import would. `defer()` runs in bot/__init__.py, before nio is
imported (tests/unit/test_start_imports.py).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

DEFERRED = frozenset({"h11", "h2", "h2.connection", "h2.events"})  # what nio imports
_standing_in: list[_Deferred] = []  # in the order nio imported them


class _Deferred(ModuleType):
    """Stands in for a module until one of its own attributes is read.

    importlib's LazyLoader would load on any attribute, and the import system reads
    `__spec__` on every later `import h11`: so the real code runs only when a name the
    module itself defines is read (`__spec__`, `__path__` and the like are set already).
    Then every module still deferred runs, in nio's order, as the plain imports would have
    done together: nio reads `h2.config`, which only running `h2.connection` provides.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system probing a module it is setting up
            raise AttributeError(name)
        _run_deferred()
        return getattr(self, name)


def _run_deferred() -> None:
    while _standing_in:
        module = _standing_in.pop(0)
        spec = module.__spec__
        assert spec is not None and isinstance(spec.loader_state, importlib.abc.Loader)
        real = spec.loader_state
        module.__class__ = ModuleType  # type: ignore[assignment]  # a plain module from here
        spec.loader = module.__loader__ = real
        real.exec_module(module)


class _DeferredLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = _Deferred(spec.name)
        _standing_in.append(module)
        return module

    def exec_module(self, module: ModuleType) -> None:
        pass  # the real loader runs on first use (_Deferred.__getattr__)


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the deferred names as the path finder would, and defers their loading."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in DEFERRED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader_state, spec.loader = spec.loader, _DeferredLoader()
        return spec


def defer() -> None:
    if any(name in sys.modules for name in DEFERRED):
        return  # too late: already imported for real
    if not any(isinstance(finder, _DeferringFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DeferringFinder())
