"""Compiles in the background, the most urgent first, each result kept by key.

The kernel's link server knows much of what it will compile before the
kernel asks: HELLO names every slot's function, and a round's PROFILE
carries the values the next rounds will specialise for. This queue runs
those compiles on one thread (the compiler process serves one request at a
time), lowest priority first (the slot the kernel is at, then its next
round), while the server goes on answering the kernel; asking for a key
nobody submitted queues it ahead of everything. A compile that raises
keeps its exception for whoever asks for the key.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

URGENT = (-1,)  # ahead of every slot's priority


class CompileQueue:
    """``work(job)`` run on a background thread, one job at a time, by priority."""

    def __init__(self, work: Callable[[Any], Any]) -> None:
        self._work = work
        self._futures: dict[Hashable, Future[Any]] = {}
        self._heap: list[tuple[tuple[int, ...], int, Hashable, Any]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="fluidjit-compile-queue", daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, priority: tuple[int, ...], job: Any) -> Future[Any]:
        """The future of ``key``: the one already submitted, or ``job`` queued at ``priority``."""
        with self._cond:
            if key in self._futures:
                return self._futures[key]
            future: Future[Any] = Future()
            self._futures[key] = future
            heapq.heappush(self._heap, (priority, next(self._order), key, job))
            self._cond.notify()
            return future

    def submitted(self, key: Hashable) -> bool:
        with self._cond:
            return key in self._futures

    def close(self) -> None:
        """Drop what has not started; let the running job finish in the background."""
        with self._cond:
            self._closed = True
            for _, _, key, _ in self._heap:
                self._futures[key].cancel()
            self._heap.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                _, _, key, job = heapq.heappop(self._heap)
                future = self._futures[key]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._work(job))
            except Exception as exc:  # noqa: BLE001 - kept for whoever asks for the key
                future.set_exception(exc)
