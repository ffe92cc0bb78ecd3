"""Plan a batch from the source folder and the ledger, feed a runner, settle every outcome.

The order of writes is what makes a run resumable and each output written once:
``started`` is in the ledger before a worker gets a file; a worker renames the
finished output into place; then ``done`` is recorded. A file whose worker died, or
whose driver was stopped, between those steps is settled from the output folder:
an output that was not there before it started is complete (renames are atomic) and
is adopted, never written again; otherwise the file runs again, up to the attempt limit.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.batch.ledger import LEDGER_NAME, Ledger
from engine.batch.progress import BatchProgress
from engine.batch.runners import Outcome, Runner, WorkItem
from engine.batch.tasks import Task
from engine.files import clean_stale_parts, same_file
from engine.images import FORMATS

LISTED = 50  # failures the summary names; the ledger has every one


@dataclass
class Plan:
    """What this run has to do, and what earlier runs already settled."""

    total: int = 0
    todo: list[WorkItem] = field(default_factory=list)
    done_before: int = 0
    adopted: int = 0  # finished by a run that stopped before recording it
    failed: list[tuple[str, str]] = field(default_factory=list)  # settled: (file, reason)


def find_sources(source: Path, output: Path) -> list[Path]:
    """Every photo under ``source`` (sorted, links to folders not followed), skipping the
    output folder when it lies inside and hidden files such as temporary saves."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not same_file(Path(folder, d), output)
        )
        found += [
            Path(folder, name)
            for name in sorted(files)
            if not name.startswith(".") and Path(name).suffix.lower() in FORMATS
        ]
    return found


def _stat(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def plan(
    source: Path, output: Path, task: Task, ledger: Ledger, overwrite: bool, attempts: int
) -> Plan:
    """Decide, file by file, whether it is done, adopted, given up on, or to run."""
    result = Plan()
    claimed: dict[str, str] = {}
    for path in find_sources(source, output):
        rel = path.relative_to(source).as_posix()
        out_rel = task.output(PurePosixPath(rel)).as_posix()
        result.total += 1
        if out_rel in claimed:
            result.failed.append((rel, f"its output {out_rel} is also {claimed[out_rel]}'s"))
            continue
        claimed[out_rel] = rel
        target = output / out_rel
        try:
            info = path.stat()
        except OSError as exc:
            result.failed.append((rel, f"cannot be read ({exc.strerror})"))
            continue
        item = WorkItem(rel, str(path), str(target), out_rel, info.st_size, info.st_mtime_ns)
        state = ledger.files.get(rel)
        now = _stat(target)
        same = state is not None and (state.size, state.mtime_ns) == (item.size, item.mtime_ns)
        if state is not None and same and state.status == "done" and now is not None:
            result.done_before += 1
        elif (
            state is not None and same and state.status == "started" and _landed(now, state.before)
        ):
            ledger.append(_record(item, "done", output_stat=now, info={"recovered": True}))
            result.adopted += 1
        elif state is not None and same and state.status != "done" and state.attempts >= attempts:
            result.failed.append((rel, f"gave up after {state.attempts} attempts: {state.error}"))
        elif state is None and now is not None and not overwrite:
            result.failed.append(
                (rel, f"{out_rel} already exists and this batch did not write it; use --overwrite")
            )
        else:
            result.todo.append(item)
    return result


def _landed(now: list[int] | None, before: list[int] | None) -> bool:
    """An output that exists and is not the file that was there when the work started:
    a finished one, since outputs only ever appear whole."""
    return now is not None and now != before


def _record(item: WorkItem, status: str, **extra: object) -> dict[str, object]:
    return {
        "status": status,
        "source": item.rel,
        "size": item.size,
        "mtime_ns": item.mtime_ns,
        "output": item.output,
        **extra,
    }


def run(
    todo: list[WorkItem],
    runner: Runner,
    ledger: Ledger,
    progress: BatchProgress,
    attempts: int,
    on_outcome: Callable[[WorkItem, Outcome], None] | None = None,
) -> list[tuple[str, str]]:
    """Run every file to ``done`` or ``failed``; returns the failures of this run.

    ``on_outcome`` sees each settled file (tests use it to kill a worker or stop the
    driver mid-job)."""
    queue = deque(todo)
    before: dict[str, list[int] | None] = {}
    in_flight = 0
    failures: list[tuple[str, str]] = []
    folders: set[Path] = set()
    try:
        while queue or in_flight:
            while queue and in_flight < runner.slots:
                item = queue.popleft()
                before[item.rel] = _stat(Path(item.target))
                attempt = _attempts(ledger, item) + 1
                ledger.append(_record(item, "started", attempt=attempt, before=before[item.rel]))
                runner.submit(item)
                in_flight += 1
            for item, outcome in runner.wait(0.5):
                in_flight -= 1
                folders.add(Path(item.target).parent)
                if outcome.status == "died":
                    now = _stat(Path(item.target))
                    if _landed(now, before[item.rel]):
                        outcome = Outcome("done", output_stat=now, info={"recovered": True})
                    elif _attempts(ledger, item) < attempts:
                        queue.append(item)  # not the file's fault, as far as we know
                        continue
                    else:
                        outcome = Outcome("failed", f"{outcome.error}, {attempts} times")
                fields = {"seconds": round(outcome.seconds, 3)}
                if outcome.status == "done":
                    ledger.append(
                        _record(item, "done", output_stat=outcome.output_stat, info=outcome.info)
                        | fields
                    )
                else:
                    ledger.append(_record(item, "failed", error=outcome.error) | fields)
                    failures.append((item.rel, outcome.error))
                device = str(outcome.info.get("device", ""))
                progress.file(item.rel, outcome.status == "done", outcome.error, device)
                if on_outcome is not None:
                    on_outcome(item, outcome)
            progress.tick()
    finally:
        runner.close()
        for folder in folders:  # what a killed worker left mid-save
            clean_stale_parts(folder)
    return failures


def _attempts(ledger: Ledger, item: WorkItem) -> int:
    state = ledger.files.get(item.rel)
    same = state is not None and (state.size, state.mtime_ns) == (item.size, item.mtime_ns)
    return state.attempts if state is not None and same else 0


def summary(plan: Plan, progress: BatchProgress, failures: list[tuple[str, str]]) -> str:
    """The table printed at the end: every file is in exactly one row."""
    elapsed = time.monotonic() - progress.start
    rows = [
        ("done", plan.done_before + plan.adopted + progress.done),
        ("  this run", progress.done),
        ("  earlier runs", plan.done_before + plan.adopted),
        ("failed", len(plan.failed) + progress.failed),
        ("left", progress.left),
        ("total", plan.total),
    ]
    lines = [f"{name:<14}{count:>8}" for name, count in rows]
    lines.append(f"{'time':<14}{elapsed:>7.1f}s ({progress.rate():.2f} files/s this run)")
    if progress.devices:
        ran = ", ".join(f"{device} x{count}" for device, count in progress.devices.items())
        lines.append(f"{'ran on':<14}{ran}")
    failed = plan.failed + failures
    for rel, reason in failed[:LISTED]:
        lines.append(f"  failed {rel}: {reason}")
    if len(failed) > LISTED:
        lines.append(
            f"  ... and {len(failed) - LISTED} more, each with its reason in {LEDGER_NAME}"
        )
    return "\n".join(lines)
