"""What genai-cost's own failures look like, so that only those are caught.

Nothing on the span path may raise into the application, so genai-cost catches
its own failures and counts them. But it must not catch the application's
exceptions either: a timeout raised from a signal handler (Celery's
``SoftTimeLimitExceeded``, ``signal.alarm`` handlers, timeout decorators) lands
on whatever line the main thread is running, which may be genai-cost's. Caught
as ``Exception``, it would be logged as an internal error and the task would run
on past its limit (measured: 28% of such timeouts lost in a tight agent loop).

A bug in genai-cost's own code raises one of the built-in errors below; an
application's exception is almost always of its own type (or ``TimeoutError``,
an ``OSError``), and is let through. User code that genai-cost calls (listeners,
cost layers, budget callbacks) is still guarded with ``Exception``: its failures
are of any type.
"""

from __future__ import annotations

import re
import sys
import threading

INTERNAL_FAILURES: tuple[type[Exception], ...] = (
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    RecursionError,
    StopIteration,
    TypeError,
    ValueError,
    re.error,
)


#: What user code raises by itself beyond ``Exception`` (a callback's ``sys.exit()``, ...):
#: on the export thread it would end the thread, and every export after, without a word.
_BUILT_IN_EXITS: tuple[type[BaseException], ...] = (Exception, SystemExit, KeyboardInterrupt, GeneratorExit)


def user_failures() -> tuple[type[BaseException], ...]:
    """What a guard around user code (a listener, a cost layer, a callback) catches, read
    only once it has raised: ``Exception`` on the main thread, where a signal handler's
    exception may land and must go on up to the application. On another thread (the batch
    processor's export thread) also the built-in exits and asyncio's ``CancelledError``, but
    not another library's ``BaseException``: those exist to unwind through ``except
    Exception`` (gevent's ``Timeout`` and ``GreenletExit`` in a request greenlet, which
    threading reports as a thread of its own; a thread-interrupting timeout), and caught
    here a request ran past its deadline and a killed greenlet went on."""
    if threading.current_thread() is threading.main_thread():
        return _EXCEPTION_ONLY
    asyncio = sys.modules.get("asyncio")  # (not imported: nothing raises its CancelledError)
    return _BUILT_IN_EXITS if asyncio is None else (*_BUILT_IN_EXITS, asyncio.CancelledError)


_EXCEPTION_ONLY: tuple[type[BaseException], ...] = (Exception,)


def worth_logging(failed: set[object], key: object, count: int) -> bool:
    """Whether a failure of user code is logged: the first of each ``key`` (a listener, a
    callback, a layer; added to ``failed``), then every 1000th of all (``count``, already
    counting this one). A traceback per span or per trace floods the log and slows the
    export thread until the batch processor drops spans."""
    first = key not in failed
    if first:
        failed.add(key)
    return first or count % 1000 == 0


class OwnExtension:
    """Base of genai-cost's own listeners and cost layers (a budget, the metrics, the
    human-escalation layer). The processor calls them where it calls user code, but
    guards them as its own code: an application's exception raised by a signal handler
    while one runs goes on up to the application, not into the internal-error count."""

    __slots__ = ()
