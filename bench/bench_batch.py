"""Batch: files per second on the local process pool vs Ray actors, and one worker's cost.

- Throughput: the bundled restore pipeline (defaults, faces included) on 320x240 copies
  of the sample photos, 2 workers of 1 thread each on both engines (Ray: a local Ray
  with 2 CPUs). Workers are started and have opened their sessions (one file each)
  before the clock starts, rounds alternate between engines, and the median round
  counts, so drift on a shared machine hits both. Ray's overhead must stay under 10 %.
- One worker per megapixel: a fresh process restores a 0.5 MP and a 2 MP photo with
  1 thread and the single-file tile budget (1024 MB); the difference between the two
  is the cost of one more megapixel (seconds, peak RSS), without start-up and sessions.
- The ledger: one durable (fsynced) record, twice per file.

docs/bench-results.md turns these into a paper scaling table for 10 and 100 nodes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from PIL import Image

from bench.common import Row
from engine.batch.ledger import Ledger
from engine.batch.runners import BLAS_THREADS, LocalRunner, RayRunner, Runner, WorkerSpec, WorkItem
from engine.batch.tasks import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
NAME = "batch"
WORKERS = 2
FILES = 24
ROUNDS = 3

PER_MP_PROBE = """
import resource, sys, time
from pathlib import Path
from PIL import Image
from engine.batch.runners import TaskWorker, WorkerSpec, WorkItem
from engine.batch.tasks import Settings
source, folder = Path(sys.argv[1]), Path(sys.argv[2])
worker = TaskWorker(WorkerSpec("restore", {}, Settings("cpu", 1024), 1, None))
for name, size in (("warm", (160, 120)), ("half", (816, 612)), ("two", (1632, 1224))):
    photo = folder / f"{name}.jpg"
    Image.open(source).convert("RGB").resize(size).save(photo, quality=95)
    item = WorkItem(name, str(photo), str(folder / f"out_{name}.jpg"), name, 0, 0)
    start = time.perf_counter()
    outcome = worker.process(item)
    assert outcome.status == "done", outcome.error
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(name, size[0] * size[1] / 1e6, time.perf_counter() - start, rss)
"""


def _photos(folder: Path) -> list[WorkItem]:
    sources = sorted(SAMPLES.glob("old_*.jpg"))
    items = []
    for index in range(FILES + WORKERS):
        path = folder / f"{index:03d}.jpg"
        Image.open(sources[index % len(sources)]).convert("RGB").resize((320, 240)).save(path)
        target = folder / "out" / path.name
        items.append(WorkItem(path.name, str(path), str(target), path.name, 0, 0))
    return items


def _files_per_second(runner: Runner, items: list[WorkItem]) -> float:
    """Warm every worker with one file, then time the rest through the runner."""
    warm, timed = items[:WORKERS], deque(items[WORKERS:])
    for item in warm:
        runner.submit(item)
    left = len(warm)
    while left:
        left -= len(runner.wait(1.0))
    start = time.perf_counter()
    in_flight = finished = 0
    while timed or in_flight:
        while timed and in_flight < runner.slots:
            runner.submit(timed.popleft())
            in_flight += 1
        got = runner.wait(0.5)
        in_flight -= len(got)
        finished += sum(outcome.status == "done" for _, outcome in got)
    assert finished == FILES, "every bench photo restores"
    return FILES / (time.perf_counter() - start)


def throughput(folder: Path) -> list[Row]:
    import ray

    items = _photos(folder)
    spec = WorkerSpec("restore", {}, Settings("cpu", 1024), 1, None)
    ray.init(num_cpus=WORKERS, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    local, remote = [], []
    try:
        for _ in range(ROUNDS):
            runner: Runner = LocalRunner(spec, WORKERS)
            try:
                local.append(_files_per_second(runner, items))
            finally:
                runner.close()
            runner = RayRunner(spec, WORKERS, 0.0, 0, started=False)
            try:
                remote.append(_files_per_second(runner, items))
            finally:
                runner.close()
    finally:
        ray.shutdown()
    ours, theirs = statistics.median(local), statistics.median(remote)
    overhead = (ours / theirs - 1) * 100
    extra = {"local": local, "ray": remote, "workers": WORKERS, "size": "320x240"}
    return [
        Row(NAME, f"local pool, {WORKERS} workers, 320x240 restore", ours, "files/s", extra=extra),
        Row(NAME, f"Ray actors, {WORKERS} workers, same files", theirs, "files/s", extra=extra),
        Row(NAME, "Ray overhead vs local pool", overhead, "%", "< 10 %", overhead < 10),
    ]


def per_megapixel(folder: Path) -> list[Row]:
    one_thread = dict.fromkeys(BLAS_THREADS, "1")
    probe = subprocess.run(
        [sys.executable, "-c", PER_MP_PROBE, str(SAMPLES / "old_EveningGlow.jpg"), str(folder)],
        env={**os.environ, **one_thread},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    runs = {
        line.split()[0]: [float(v) for v in line.split()[1:]] for line in probe.stdout.splitlines()
    }
    (mp_a, s_a, rss_a), (mp_b, s_b, rss_b) = runs["half"], runs["two"]
    seconds = (s_b - s_a) / (mp_b - mp_a)
    megabytes = (rss_b - rss_a) / (mp_b - mp_a) / 2**20
    extra = {"runs": runs}
    return [
        Row(NAME, "one CPU worker (1 thread), restore time per MP", seconds, "s/MP", extra=extra),
        Row(NAME, "one CPU worker, peak memory per MP (1024 MB tiles)", megabytes, "MB/MP"),
        Row(NAME, "one CPU worker, peak RSS at 2 MP", rss_b / 2**20, "MB"),
    ]


def ledger_record(folder: Path) -> list[Row]:
    with Ledger(folder) as ledger:
        start = time.perf_counter()
        for index in range(200):
            ledger.append({"status": "started", "source": f"{index}.jpg", "size": 1, "mtime_ns": 1})
        each = (time.perf_counter() - start) / 200
    return [Row(NAME, "ledger record (fsynced), 2 per file", each * 1000, "ms")]


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("throughput", "per_mp", "ledger"):
            (root / name).mkdir()
        rows = throughput(root / "throughput")
        rows += per_megapixel(root / "per_mp")
        rows += ledger_record(root / "ledger")
    return rows
