"""The one thread-pool hop a request's database work takes.

Starlette's `run_in_threadpool` goes through anyio's capacity limiter, cancel scope and
run-variable look-ups on every call: about 50 µs of CPU per hop on this project's benchmark
machine, against about 30 µs for asyncio's own `run_in_executor` (docs/performance.md, "Seventh
pass"). The routes that read their own request (the secrets PUT, env pull, deployment create)
hop here instead, on a pool of the same size as anyio's default limiter, so as many requests
wait on the database at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

# anyio's default thread limiter (what Starlette's run_in_threadpool is bounded by).
WORKER_THREADS = 40

P = ParamSpec("P")
T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="keyturn-request")


async def in_worker_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread, with the caller's context variables."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool, call)
