"""What a build shows and records: console lines, a progress count, a trace file.

The doit reporter of every fluidbuild build (``DOIT_CONFIG['reporter']``):

- On a pipe or file (CI, tests) it prints what doit's ``executed-only``
  reporter prints: ``.  name`` for each task that runs, nothing for up-to-date
  tasks, so a no-op build prints nothing. On an interactive terminal each
  task that runs is shown with a progress count instead, as ninja does:
  ``[17/47] kernel_ir:src/kernel/mem.c`` (tasks checked so far / tasks the
  request needs).
- After every build it writes ``<build_dir>/.fluidbuild/trace.json`` in
  Chrome's trace-event format (what Bazel's ``--profile`` writes; open it in
  https://ui.perfetto.dev or chrome://tracing): the graph load, then one
  complete ("X") event per task that ran, with its start and duration in µs,
  a lane per concurrently running task, and ``args``: ``reason`` (why it ran:
  the configuration keys that changed, changed or missing files, damaged
  outputs; as ``explain=1`` says), ``cache`` (``hit``, ``miss`` or ``n/a``)
  and ``status``.
- Then it hands the outcome to :func:`fluidbuild.noop.build_finished`, which
  records the state a fast no-op checks.

The action cache says what it did for a task with :func:`mark_cache` (from any
thread): ``mark_cache(task_name, "hit")`` when the outputs came from the cache,
``"miss"`` when the task was looked up and built; a task never marked shows
``n/a``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, TextIO

from doit.reporter import ExecutedOnlyReporter

from fluidbuild import noop

_cache_marks: dict[str, str] = {}
_marks_lock = threading.Lock()


def mark_cache(task: str, status: str) -> None:
    """Record that the action cache answered ``status`` (``hit``/``miss``) for ``task``
    (a doit task name, ``basename:sub``)."""
    with _marks_lock:
        _cache_marks[task] = status


def _cache_status(task: str) -> str:
    with _marks_lock:
        return _cache_marks.pop(task, "n/a")


def reasons(task: Any) -> list[str]:
    """Why doit is running ``task``, from what its up-to-date check left behind
    (doit stops at the first reason; the fingerprint keeps its own)."""
    from fluidbuild.fingerprint import Fingerprint

    found: list[str] = []
    checks = [check for check, _, _ in task.uptodate]
    fingerprints = [c for c in checks if isinstance(c, Fingerprint)]
    for check in fingerprints:
        found.extend(check.reasons)
    if False in checks:
        found.append("a file its depfile lists is gone" if fingerprints else "always runs")
    missing = [t for t in task.targets if not os.path.exists(t)]
    if missing:
        found.append(f"output missing: {', '.join(missing)}")
    elif task.dep_changed:
        found.append(f"changed: {', '.join(sorted(task.dep_changed))}")
    if not found:
        found.append("its list of file dependencies changed" if task.file_dep else "no dependencies")
    return found


class Reporter(ExecutedOnlyReporter):
    """doit's executed-only output (or a progress count on a terminal), a trace
    file, and the no-op record."""

    desc = "fluidbuild: executed tasks (progress on a terminal), build/.fluidbuild/trace.json"

    def __init__(self, outstream: TextIO, options: dict[str, Any]) -> None:
        super().__init__(outstream, options)
        isatty = getattr(outstream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self.tasks: dict[str, Any] = {}
        self.selected: list[str] = []
        self.statuses: dict[str, str] = {}
        self.total = 0  # tasks with actions the request needs
        self.checked = 0
        self.failed = False
        self.events: list[dict[str, Any]] = []
        self._started: dict[str, tuple[int, int, list[str]]] = {}  # name -> (start ns, lane, reasons)
        self._lanes: list[bool] = []  # lane -> busy
        self._t0 = noop._T0
        self._run_started = time.perf_counter_ns()

    # -- doit's calls ------------------------------------------------------------

    def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
        self.tasks, self.selected = tasks, list(selected_tasks)
        try:
            needed = noop._closure(tasks, self.selected)
        except KeyError:
            needed = []
        self.total = sum(1 for name in needed if tasks[name].actions)
        self._run_started = time.perf_counter_ns()

    def skip_uptodate(self, task: Any) -> None:
        self.statuses[task.name] = "up-to-date"
        if task.actions:
            self.checked += 1

    def skip_ignore(self, task: Any) -> None:
        self.statuses[task.name] = "ignored"

    def execute_task(self, task: Any) -> None:
        self.statuses[task.name] = "running"
        if not task.actions:
            return
        self.checked += 1
        lane = next((i for i, busy in enumerate(self._lanes) if not busy), len(self._lanes))
        if lane == len(self._lanes):
            self._lanes.append(True)
        self._lanes[lane] = True
        self._started[task.name] = (time.perf_counter_ns(), lane, reasons(task))
        if task.name[0] == "_":
            return
        if self.interactive:
            self.write(f"[{self.checked}/{max(self.total, self.checked)}] {task.title()}\n")
        else:
            self.write(f".  {task.title()}\n")

    def add_success(self, task: Any) -> None:
        self.statuses[task.name] = "success"
        self._finish(task, "ok")

    def add_failure(self, task: Any, fail: Any) -> None:
        self.statuses[task.name] = "failure"
        self.failed = True
        self._finish(task, "failed")
        super().add_failure(task, fail)

    def runtime_error(self, msg: str) -> None:
        self.failed = True
        super().runtime_error(msg)

    def complete_run(self) -> None:
        super().complete_run()
        s = noop.session()
        recorded = noop.build_finished(self.tasks, self.selected, self.statuses, self.failed)
        if s is not None and s.build_dir is not None:
            self._write_trace(s, recorded)

    # -- the trace ---------------------------------------------------------------

    def _finish(self, task: Any, status: str) -> None:
        started = self._started.pop(task.name, None)
        if started is None:
            return
        start, lane, why = started
        self._lanes[lane] = False
        self.events.append({
            "name": task.name, "cat": "task", "ph": "X", "pid": 1, "tid": lane + 1,
            "ts": (start - self._t0) // 1000, "dur": max(1, (time.perf_counter_ns() - start) // 1000),
            "args": {"reason": why, "cache": _cache_status(task.name), "status": status},
        })

    def _write_trace(self, s: noop.Session, recorded: bool) -> None:
        end = time.perf_counter_ns()
        loaded = s.loaded_ns or self._run_started
        phases = [
            {"name": "load graph", "cat": "fluidbuild", "ph": "X", "pid": 1, "tid": 0, "ts": 0,
             "dur": max(1, (loaded - self._t0) // 1000), "args": {"tasks": len(self.tasks)}},
            {"name": "check and run", "cat": "fluidbuild", "ph": "X", "pid": 1, "tid": 0,
             "ts": (loaded - self._t0) // 1000, "dur": max(1, (end - loaded) // 1000),
             "args": {"executed": len(self.events), "needed": self.total, "failed": self.failed}},
        ]
        lanes = [{"name": "thread_name", "ph": "M", "pid": 1, "tid": i,
                  "args": {"name": "fluidbuild" if i == 0 else f"lane {i}"}}
                 for i in range(len(self._lanes) + 1)]
        noop.write_trace(noop.trace_path(os.path.join(s.root, s.build_dir or "")),
                         lanes + phases + self.events,
                         {"fast_path": False, "noop_recorded": recorded, "selected": self.selected})
