"""Locks that survive ``os.fork()``.

A fork copies the process with only the forking thread running. A lock another
thread held at that moment stays held in the child, by a thread that does not
exist there: the child's first ``with lock`` waits forever (a prefork server's
worker frozen on its first budget check or export). Each component that keeps a
lock registers it here, and the child gets fresh ones. The state the lock
guarded is copied as it was (the cost metrics' running totals excepted: see
``CostMetrics._start_totals_after_fork``); every update
made under these locks is a single dict or counter operation, so the child never
sees one half done.

``os.register_at_fork`` has no way to unregister: a hook per component would pile
up for the life of the process (a catalog loaded per request, an exporter per
test). So one hook is registered, when this module is imported, and it runs the
hooks of the components still alive, held weakly in :data:`AFTER_FORK`. It lives
in the pricing package because the catalog needs it and the pricing core imports
nothing of genai-cost outside itself; it imports nothing but the standard library.
"""

from __future__ import annotations

import itertools
import logging
import os
import types
import weakref
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")

_Hook = Callable[[object], None]


class _AfterFork:
    """The components to refresh in a forked child, in the order they registered.

    Each owner is held through a weak reference whose callback drops its entry when
    the owner is collected, so the registry holds exactly the live owners. Entries are
    added and dropped with single dict operations (atomic under the GIL): no lock, so
    there is none to find held in the child either."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[object], _Hook]] = {}
        self._keys = itertools.count()

    def add(self, owner: object, hook: _Hook) -> None:
        key = next(self._keys)
        entries = self._entries

        def forget(_: weakref.ref[object]) -> None:
            entries.pop(key, None)

        entries[key] = (weakref.ref(owner, forget), hook)

    def __len__(self) -> int:
        return len(self._entries)

    def run_in_child(self) -> None:
        # A copy: a hook may let an owner die, whose callback then edits the dict.
        for reference, hook in self._entries.copy().values():
            owner = reference()
            if owner is not None:
                try:
                    hook(owner)
                except Exception:  # the other components must still get theirs
                    logging.getLogger("genai_cost").exception("genai-cost: refreshing %r after a fork failed", owner)


#: The one registry of this process, run by the one at-fork hook below.
AFTER_FORK = _AfterFork()

if hasattr(os, "register_at_fork"):  # (not on Windows, which has no fork)
    os.register_at_fork(after_in_child=AFTER_FORK.run_in_child)


def renew_locks_after_fork(owner: object, **locks: Callable[[], object]) -> None:
    """In a forked child, set each attribute ``name`` of ``owner`` to ``factory()``
    (``renew_locks_after_fork(self, _lock=threading.Lock)``). ``owner`` is held
    weakly: registering does not keep it alive."""

    def renew(target: object) -> None:
        for name, factory in locks.items():
            setattr(target, name, factory())

    AFTER_FORK.add(owner, renew)


def in_child_after_fork(owner: _T, method: Callable[[_T], None]) -> None:
    """In a forked child, call ``method(owner)``. ``owner`` is held weakly, so
    ``method`` must be the plain function (``Kind._reset``), not a method bound
    to ``owner`` (``self._reset``), which would keep it alive for ever."""
    if isinstance(method, types.MethodType) and method.__self__ is owner:
        raise TypeError("in_child_after_fork takes the function (Kind.method), not a method bound to the owner")
    AFTER_FORK.add(owner, method)  # type: ignore[arg-type]
