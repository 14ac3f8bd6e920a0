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
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


def renew_locks_after_fork(owner: object, **locks: Callable[[], object]) -> None:
    """In a forked child, set each attribute ``name`` of ``owner`` to ``factory()``
    (``renew_locks_after_fork(self, _lock=threading.Lock)``). ``owner`` is held
    weakly: registering does not keep it alive."""

    def renew(target: object) -> None:
        for name, factory in locks.items():
            setattr(target, name, factory())

    in_child_after_fork(owner, renew)


def in_child_after_fork(owner: _T, method: Callable[[_T], None]) -> None:
    """In a forked child, call ``method(owner)``. ``owner`` is held weakly."""
    if not hasattr(os, "register_at_fork"):  # pragma: no cover - Windows
        return
    reference = weakref.ref(owner)

    def call() -> None:
        target = reference()
        if target is not None:
            method(target)

    os.register_at_fork(after_in_child=call)
