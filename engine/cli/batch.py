"""``heirloom batch SRC -o DST``: one task over a whole collection, resumable.

``--engine local`` runs worker processes on this machine; ``--engine ray`` runs Ray
actors on a cluster (``--address auto`` or ``ray://host:port``; none starts a local
Ray). The task options are the single-file commands' own; an option the chosen task
does not read is refused rather than silently ignored.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from engine.batch import driver
from engine.batch.ledger import LEDGER_NAME, Ledger, options_id
from engine.batch.progress import BatchProgress
from engine.batch.runners import LocalRunner, RayRunner, Runner, WorkerSpec
from engine.batch.tasks import TASKS, Settings
from engine.errors import Cancelled, HeirloomError
from engine.files import same_file
from engine.limits import ATTEMPTS, MEMORY_MB, QUALITY, SMOOTHING, THRESHOLD, TILE, WORKERS

MB = 1 << 20
RAM_SHARE = 0.5  # of this machine's memory (of Ray's, on a cluster) that workers share by default

# dest -> (flag, argparse keywords, the value a task gets when the option is not given)
OPTIONS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "scratches": (
        "--scratches",
        {"choices": ("auto", "off"), "help": "auto (detect) or off"},
        "auto",
    ),
    "threshold": ("--threshold", {"type": THRESHOLD.parse, "help": "scratch threshold 0..1"}, None),
    "faces": ("--faces", {"action": argparse.BooleanOptionalAction}, True),
    "colour": (
        "--colour",
        {"action": "store_const", "const": True, "help": "keep RGB output for gray scans"},
        False,
    ),
    "smoothing": ("--smoothing", {"type": SMOOTHING.parse, "help": "0..1 (0 keeps grain)"}, 1.0),
    "bit_depth": ("--bit-depth", {"type": int, "choices": (8, 16)}, None),
    "quality": ("--quality", {"type": QUALITY.parse, "help": "JPEG/WebP quality"}, 95),
    "tile": ("--tile", {"type": TILE.parse, "help": f"tile size, {TILE.describe()}"}, None),
    "model": ("--model", {"help": "restore pack name"}, None),
    "detector": ("--detector", {"help": "scratch-detect pack name"}, None),
}


HELP = "run a task over a whole folder, resumable, locally or on a Ray cluster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The task options are listed once, in :data:`OPTIONS`."""
    parser.add_argument("source", type=Path, help="folder of photos (sub-folders included)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--task", choices=sorted(TASKS), default="restore")
    for dest, (flag, keywords, _) in OPTIONS.items():
        parser.add_argument(flag, dest=dest, default=None, **keywords)
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--address", help="Ray cluster: auto, or ray://host:port")
    parser.add_argument(
        "--workers", type=WORKERS.parse, help="worker processes (default: half the CPUs)"
    )
    parser.add_argument(
        "--memory",
        type=MEMORY_MB.parse,
        help="MB of tile memory per worker (default: half the RAM shared by the workers)",
    )
    parser.add_argument(
        "--attempts", type=ATTEMPTS.parse, default=3, help="tries per file, over all runs"
    )
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace outputs this batch did not write"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def task_options(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen task's options, defaults filled in; one it does not read is an error."""
    task = TASKS[args.task]
    for dest, (flag, _, _) in OPTIONS.items():
        if getattr(args, dest, None) is not None and dest not in task.options:
            raise HeirloomError(f"{flag} does not apply to --task {task.name}")
    chosen = {dest: getattr(args, dest, None) for dest in task.options}
    return {dest: OPTIONS[dest][2] if value is None else value for dest, value in chosen.items()}


def _check_folders(source: Path, output: Path) -> None:
    """Refuse, before any work, folder pairs whose outputs could land on the sources."""
    if not source.is_dir():
        hint = "; for one photo use heirloom restore" if source.is_file() else ""
        raise HeirloomError(f"{source} is not a folder{hint}")
    if output.exists() and not output.is_dir():
        raise HeirloomError(f"{output} is a file; give a folder for the results")
    if same_file(output, source):
        raise HeirloomError("the output folder must differ from the source folder")
    if source.resolve().is_relative_to(output.resolve()):
        raise HeirloomError("the source folder must not lie inside the output folder")
    if not output.parent.is_dir():
        raise HeirloomError(f"the folder {output.parent} does not exist")


def machine_memory_mb() -> int:
    """Physical memory of this machine in MB (1024 where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MB)
    except (AttributeError, ValueError, OSError):
        return 1024


def per_worker_memory(asked: int | None, total_mb: float, workers: int) -> int:
    """``--memory``, or a share of ``total_mb``; refused when the workers cannot all fit."""
    if asked is None:
        return int(max(MEMORY_MB.low, min(MEMORY_MB.high, total_mb * RAM_SHARE / workers)))
    if asked * workers > total_mb:
        raise HeirloomError(
            f"--memory {asked} for {workers} workers needs {asked * workers} MB, but "
            f"{int(total_mb)} MB are there; use fewer workers or less memory each"
        )
    return asked


def _local_runner(
    args: argparse.Namespace, options: dict[str, Any]
) -> tuple[Runner, dict[str, Any]]:
    cpus = os.cpu_count() or 1
    workers = args.workers or max(1, cpus // 2)
    memory = per_worker_memory(args.memory, machine_memory_mb(), workers)
    spec = _spec(args, options, max(1, cpus // workers), memory)
    return LocalRunner(spec, workers), {"workers": workers, "memory_mb": memory}


def _ray_runner(args: argparse.Namespace, options: dict[str, Any]) -> tuple[Runner, dict[str, Any]]:
    from engine.batch.runners import cluster_resources, connect, disconnect

    started = connect(args.address)
    try:
        found = cluster_resources()
        cpus, gpus = int(found.get("CPU", 1)), float(found.get("GPU", 0))
        workers = args.workers or max(1, cpus // 2)
        memory = per_worker_memory(args.memory, found.get("memory", 0) / MB, workers)
        if args.device == "cuda" and gpus == 0:
            raise HeirloomError("--device cuda: the Ray cluster has no GPUs; use --device auto")
        gpu_each = _gpu_share(args.device, gpus, workers)
        spec = _spec(args, options, max(1, cpus // workers), memory)
        runner = RayRunner(spec, workers, gpu_each, memory * MB, started)
    except BaseException:
        disconnect(started)
        raise
    return runner, {"workers": workers, "memory_mb": memory, "gpus_per_worker": gpu_each}


def _gpu_share(device: str, gpus: float, workers: int) -> float:
    """GPUs each Ray worker asks for. ``cuda``: a share of the cluster's GPUs, so every
    worker lands on a GPU node. ``auto``: a whole GPU each when there are enough, else
    none, since fractional shares would crowd all workers onto the GPU nodes and leave
    the CPU-only nodes idle."""
    if device == "cpu" or gpus == 0:
        return 0.0
    if device == "cuda":
        return min(1.0, gpus / workers)
    return 1.0 if gpus >= workers else 0.0


def _spec(
    args: argparse.Namespace, options: dict[str, Any], threads: int, memory: int
) -> WorkerSpec:
    home = os.environ.get("HEIRLOOM_HOME")
    return WorkerSpec(
        task=args.task,
        options=options,
        settings=Settings(device=args.device, memory_mb=memory),
        threads=threads,
        home=str(Path(home).resolve()) if home else None,
    )


def run(args: argparse.Namespace) -> int:
    """Plan from the ledger, run what is left, print the summary; exit 2 if a file failed."""
    options = task_options(args)
    if args.address and args.engine != "ray":
        raise HeirloomError("--address names a Ray cluster; add --engine ray")
    source, output = args.source.absolute(), args.output.absolute()  # as every node sees them
    _check_folders(source, output)
    output.mkdir(exist_ok=True)
    task = TASKS[args.task]
    run_record = {
        "status": "run",
        "task": task.name,
        "options": options,
        "options_id": options_id(task.name, options),
        "source": str(source.resolve()),
        "engine": args.engine,
        "device": args.device,
    }
    with Ledger(output) as ledger:
        ledger.check_run(run_record)
        ledger.options_id = run_record["options_id"]
        work = driver.plan(source, output, task, ledger, args.overwrite, args.attempts)
        if work.total == 0:
            raise HeirloomError(f"no photos (.png, .jpg, .tif, .webp, .bmp) in {source}")
        progress = BatchProgress(
            work.total, work.done_before + work.adopted, len(work.failed), quiet=args.quiet
        )
        failures: list[tuple[str, str]] = []
        if work.todo:
            build = _ray_runner if args.engine == "ray" else _local_runner
            runner, resources = build(args, options)
            ledger.append(run_record | resources)
            progress.begin()
            try:
                failures = driver.run(work.todo, runner, ledger, progress, args.attempts)
            except KeyboardInterrupt:
                progress.finish()
                finished = work.done_before + work.adopted + progress.done
                raise Cancelled(
                    f"{finished} of {work.total} files are complete in {output} (listed in "
                    f"{LEDGER_NAME}); run the same command again to continue"
                ) from None
        progress.finish()
    print(f"heirloom batch {task.name}: {source} -> {output}")
    print(driver.summary(work, progress, failures))
    return 2 if work.failed or failures else 0
