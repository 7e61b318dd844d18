"""Where the async SDK and the sync SDK differ by more than a keyword: waiting and locking.

The async code is the source; the sync code is generated from it by
``clients/python/scripts/generate_sync.py`` (``make sdk-sync``), which drops ``async``/``await``
and replaces each async name with its sync twin. The names below come in such pairs: the async
source uses the first of each, the generated code the second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext

from .auth import TokenStore

# One refresh at a time per login: among the tasks of one event loop / among threads.
AsyncLock = asyncio.Lock
Lock = threading.Lock

async_sleep = asyncio.sleep
sleep = time.sleep

# What closing an iterator's generator raises while another task (thread) is reading it.
ASYNC_GENERATOR_RUNNING = RuntimeError  # "aclose(): asynchronous generator is already running"
GENERATOR_RUNNING = ValueError  # "generator already executing"


@asynccontextmanager
async def async_store_locked(store: TokenStore) -> AsyncIterator[None]:
    """Hold a token store's lock without blocking the event loop while waiting for it (a file
    lock may wait for another process's refresh)."""
    lock = store.lock()
    if isinstance(lock, nullcontext):
        yield
        return
    await asyncio.to_thread(lock.__enter__)
    try:
        yield
    finally:
        await asyncio.to_thread(lock.__exit__, None, None, None)


def store_locked(store: TokenStore) -> AbstractContextManager[object]:
    """Hold a token store's lock."""
    return store.lock()
