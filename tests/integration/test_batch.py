"""`heirloom batch` on a folder of small real photos plus broken files, on both engines.

The Ray tests share one local Ray (``num_cpus=2``) for the whole module: starting it
costs seconds, each run on it only milliseconds. The driver runs in this process
(``engine.cli.main``), so a test can kill a worker or stop the driver at a chosen
file through ``driver.run``'s ``on_outcome``; the Ctrl+C test uses a real process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from engine.batch import driver
from engine.batch.ledger import LEDGER_NAME, Ledger
from engine.cli import main
from graphs import restore_packs

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
GOOD = 8
BROKEN = {"broken.jpg", "cut_short.jpg", "tiny.png", "text.png"}


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("batch") / "home"
    restore_packs(home)
    return home


@pytest.fixture
def home(packs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEIRLOOM_HOME", str(packs))
    return packs


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight small real photos (two in a sub-folder, one gray, one PNG) and four broken files."""
    folder = tmp_path_factory.mktemp("batch") / "scans"
    (folder / "1950s").mkdir(parents=True)
    photos = sorted(SAMPLES.glob("*.jpg"))
    for index in range(GOOD):
        image = Image.open(photos[index % len(photos)]).resize((64 + 8 * index, 48 + 4 * index))
        name = f"scan{index:02d}" + (".png" if index == 3 else ".jpg")
        target = folder / ("1950s" if index in (1, 5) else "") / name
        (image.convert("L") if index == 2 else image).save(target)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    whole = (SAMPLES / "old_LadyBird.jpg").read_bytes()
    (folder / "cut_short.jpg").write_bytes(whole[: len(whole) // 2])
    Image.new("RGB", (10, 10)).save(folder / "tiny.png")
    (folder / "text.png").write_text("a text file with a photo's name")
    (folder / "notes.txt").write_text("not a photo: ignored")
    return folder


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray with 2 CPUs for every test here; shut down before the next module."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def batch(scans: Path, out: Path, *extra: str) -> int:
    return main(["batch", str(scans), "-o", str(out), "--workers", "2", "-q", *extra])


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / LEDGER_NAME).read_text().splitlines()]


def table(report: str) -> dict[str, int]:
    """The summary's rows: name -> count."""
    rows = (line.rsplit(maxsplit=1) for line in report.splitlines())
    return {row[0].strip(): int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def outputs(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith("heirloom-batch")
    }


def assert_written_once(out: Path) -> None:
    """One ``done`` per good file, none for a broken one, and each output is still the
    very file that record describes (a later rewrite would change its size or mtime)."""
    done = [r for r in records(out) if r["status"] == "done"]
    sources = [r["source"] for r in done]
    assert len(sources) == len(set(sources)) == GOOD and not set(sources) & BROKEN
    for record in done:
        stat = (out / record["output"]).stat()
        assert record["output_stat"] == [stat.st_size, stat.st_mtime_ns], record["output"]
    assert not list(out.rglob("*.heirloom-part"))


@pytest.fixture(scope="module")
def local_outputs(packs: Path, scans: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The local engine's outputs: the reference the Ray engine must equal bit for bit."""
    out = tmp_path_factory.mktemp("batch") / "local"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEIRLOOM_HOME", str(packs))
        assert batch(scans, out, "--engine", "local") == 2  # the broken files failed
    assert_written_once(out)
    return outputs(out)


def test_local_run_lists_bad_files_and_a_rerun_skips_what_is_done(
    home: Path, scans: Path, tmp_path: Path, local_outputs: dict, capsys
) -> None:
    assert len(local_outputs) == GOOD and "1950s/scan01.jpg" in local_outputs
    out = tmp_path / "out"
    assert batch(scans, out) == 2
    report = capsys.readouterr()
    for name in BROKEN:
        assert f"failed {name}: " in report.out
    assert "notes.txt" not in report.out + report.err
    stats = {p: (out / p).stat().st_ino for p in local_outputs}
    assert batch(scans, out) == 2
    again = table(capsys.readouterr().out)
    assert again["earlier runs"] == GOOD and again["this run"] == 0 and again["left"] == 0
    assert {p: (out / p).stat().st_ino for p in local_outputs} == stats
    starts = [r for r in records(out) if r["status"] == "started"]
    assert len(starts) == GOOD + 2 * len(BROKEN)  # failed files retried once, good ones never


def test_ray_outputs_equal_the_local_engine_bit_for_bit(
    ray_local, home: Path, scans: Path, tmp_path: Path, local_outputs: dict
) -> None:
    out = tmp_path / "ray"
    assert batch(scans, out, "--engine", "ray") == 2
    assert outputs(out) == local_outputs
    assert_written_once(out)
    run = next(r for r in records(out) if r["status"] == "run")
    assert run["engine"] == "ray" and run["workers"] == 2
    assert all(r["options"] == run["options_id"] for r in records(out) if r["status"] != "run")


def test_a_killed_ray_worker_loses_nothing_and_writes_each_file_once(
    ray_local, home: Path, scans: Path, tmp_path: Path, local_outputs: dict, monkeypatch
) -> None:
    killed: list[object] = []
    run = driver.run

    def kill_a_worker_at_the_first_file(todo, runner, *args, **kwargs):
        def on_outcome(item, outcome):
            if not killed:
                killed.append(runner.actors[0])
                ray_local.kill(runner.actors[0])

        return run(todo, runner, *args, on_outcome=on_outcome)

    monkeypatch.setattr(driver, "run", kill_a_worker_at_the_first_file)
    out = tmp_path / "ray"
    assert batch(scans, out, "--engine", "ray") == 2
    assert killed
    assert outputs(out) == local_outputs
    assert_written_once(out)
    history = records(out)
    rescued = [r for r in history if r["status"] == "started" and r["attempt"] == 2]
    adopted = [r for r in history if r.get("info", {}).get("recovered")]
    assert rescued or adopted  # the killed worker held files, and they were settled


def test_a_killed_local_worker_loses_nothing(
    home: Path, scans: Path, tmp_path: Path, local_outputs: dict, monkeypatch
) -> None:
    run = driver.run

    def kill_a_worker_at_the_first_file(todo, runner, *args, **kwargs):
        pids = runner.pids()

        def on_outcome(item, outcome):
            if pids:
                os.kill(pids.pop(0), signal.SIGKILL)

        return run(todo, runner, *args, on_outcome=on_outcome)

    monkeypatch.setattr(driver, "run", kill_a_worker_at_the_first_file)
    out = tmp_path / "local"
    assert batch(scans, out) == 2
    assert outputs(out) == local_outputs
    assert_written_once(out)


def test_a_stopped_ray_driver_resumes_and_never_rewrites(
    ray_local, home: Path, scans: Path, tmp_path: Path, local_outputs: dict, monkeypatch, capsys
) -> None:
    run = driver.run

    def stop_after_three_files(todo, runner, *args, **kwargs):
        seen: list[str] = []

        def on_outcome(item, outcome):
            seen.append(item.rel)
            if len(seen) == 3:
                raise KeyboardInterrupt

        return run(todo, runner, *args, on_outcome=on_outcome)

    monkeypatch.setattr(driver, "run", stop_after_three_files)
    out = tmp_path / "ray"
    assert batch(scans, out, "--engine", "ray") == 130
    assert "run the same command again to continue" in capsys.readouterr().err
    first = {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("scan*")}
    assert 1 <= len(first) < GOOD
    monkeypatch.setattr(driver, "run", run)
    assert batch(scans, out, "--engine", "ray") == 2
    assert {p: (out / p).stat().st_ino for p in first} == first  # finished files untouched
    assert outputs(out) == local_outputs
    assert_written_once(out)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def copies_of_scans(scans: Path, folder: Path, count: int) -> Path:
    """``count`` good scans (repeated) in ``folder``: a job long enough to stop midway."""
    folder.mkdir()
    good = sorted(scans.rglob("scan*"))
    for index in range(count):
        source = good[index % GOOD]
        (folder / f"{index:02d}_{source.name}").write_bytes(source.read_bytes())
    return folder


def stop_at_first_done(process: subprocess.Popen, out: Path, stop: Callable[[], None]) -> None:
    """Call ``stop`` as soon as the ledger in ``out`` records a finished file."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        ledger = out / LEDGER_NAME
        if ledger.exists() and '"status":"done"' in ledger.read_text():
            stop()
            return
        time.sleep(0.01)


def test_ctrl_c_of_the_command_keeps_what_is_finished(
    packs: Path, scans: Path, tmp_path: Path, local_outputs: dict
) -> None:
    many = copies_of_scans(scans, tmp_path / "many", 40)
    out = tmp_path / "out"
    env = {**os.environ, "HEIRLOOM_HOME": str(packs)}
    command = [sys.executable, "-m", "engine.cli", "batch", str(many), "-o", str(out)]
    command += ["--workers", "2"]
    # a shell that starts the tests in the background hands them SIGINT ignored, and
    # Python keeps it ignored in the child: give the command the default, as a terminal does
    process = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint
    )
    stop_at_first_done(process, out, lambda: process.send_signal(signal.SIGINT))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "run the same command again to continue" in err
    assert "/40 done, 0 failed, " in err and " files/s, ETA " in err  # plain lines when piped
    assert "\r" not in err
    finished = {p.name: p.stat().st_ino for p in out.glob("*_scan*")}
    assert not list(out.rglob("*.heirloom-part"))
    rerun = subprocess.run(command + ["-q"], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert {n: (out / n).stat().st_ino for n in finished} == finished
    assert len(list(out.glob("*_scan*"))) == 40


def test_a_second_run_into_the_same_folder_is_refused(
    home: Path, scans: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from engine.batch.ledger import Ledger; "
            f"held = Ledger({str(out)!r}).open(); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert batch(scans, out) == 2
        assert "another batch (pid" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert not list(out.rglob("scan*"))


def test_bad_input_is_one_line_and_exit_2(home: Path, scans: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "o")
    refused = [
        (["batch", str(scans / "broken.jpg"), "-o", out], "is not a folder"),
        (["batch", str(scans), "-o", str(scans)], "must differ from the source"),
        (
            ["batch", str(scans), "-o", out, "--task", "detect-scratches", "--smoothing", "0.5"],
            "--smoothing does not apply to --task detect-scratches",
        ),
    ]
    for argv, message in refused:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    for option, value in (("--workers", "0"), ("--memory", "2000000"), ("--attempts", "x")):
        with pytest.raises(SystemExit) as exit_:
            main(["batch", str(scans), "-o", out, option, value])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and option in err and err.count("\n") == 1
    with pytest.MonkeyPatch.context() as without_ray:
        without_ray.setitem(sys.modules, "ray", None)  # as if the cluster extra were missing
        assert main(["batch", str(scans), "-o", out, "--engine", "ray"]) == 2
    assert "pip install 'heirloom[cluster]'" in capsys.readouterr().err
    again = tmp_path / "o2"
    assert batch(scans, again, "--no-faces") == 2
    assert batch(scans, again) == 2
    assert "holds a batch made with another options (faces false, now faces true)" in (
        capsys.readouterr().err
    )
    pytest.importorskip("ray")
    unreachable = subprocess.run(
        [sys.executable, "-m", "engine.cli", "batch", str(scans), "-o", out, "--engine", "ray"]
        + ["--address", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unreachable.returncode == 2 and unreachable.stderr.count("\n") == 1
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in unreachable.stderr


def test_ledger_survives_a_line_cut_short(tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger:
        ledger.append({"status": "started", "source": "a.jpg", "size": 1, "mtime_ns": 2})
    with open(tmp_path / LEDGER_NAME, "a") as handle:
        handle.write('{"status":"done","source":"b.jpg","size":"x"}\n')  # mangled by hand
        handle.write('{"status":"done","source":"a.jp')  # the driver died mid-line
    with Ledger(tmp_path) as ledger:
        assert ledger.files["a.jpg"].status == "started" and ledger.files["a.jpg"].attempts == 1
        ledger.append({"status": "done", "source": "a.jpg", "size": 1, "mtime_ns": 2})
    with Ledger(tmp_path) as ledger:
        assert ledger.files["a.jpg"].status == "done"


def test_an_output_that_landed_before_its_record_is_adopted_not_rewritten(
    scans: Path, tmp_path: Path
) -> None:
    """The driver died after a worker renamed the output into place but before ``done``
    was recorded: the next plan adopts that output instead of running the file again."""
    from engine.batch.tasks import TASKS

    source = scans / "scan00.jpg"
    info = source.stat()
    (tmp_path / "scan00.jpg").write_bytes(b"a finished output")
    with Ledger(tmp_path) as ledger:
        ledger.append(
            {
                "status": "started",
                "source": "scan00.jpg",
                "size": info.st_size,
                "mtime_ns": info.st_mtime_ns,
                "output": "scan00.jpg",
                "before": None,
            }
        )
        work = driver.plan(scans, tmp_path, TASKS["restore"], ledger, False, 3)
    assert work.adopted == 1 and "scan00.jpg" not in {item.rel for item in work.todo}
    assert records(tmp_path)[-1]["status"] == "done"
    assert (tmp_path / "scan00.jpg").read_bytes() == b"a finished output"


def test_batch_outputs_equal_the_single_file_commands(
    home: Path, scans: Path, tmp_path: Path, local_outputs: dict
) -> None:
    """Same pipelines, same options: a batch is the single-file commands, file by file."""
    masks = tmp_path / "masks"
    assert batch(scans, masks, "--task", "detect-scratches", "--threshold", "0.6") == 2
    made = outputs(masks)
    assert len(made) == GOOD and "1950s/scan05_mask.png" in made
    for name in ("scan00", "1950s/scan05"):
        source = next(scans.glob(f"{name}.*"))
        one = tmp_path / f"{source.stem}.png"
        assert main(["detect-scratches", str(source), "-o", str(one), "--threshold", "0.6"]) == 0
        assert one.read_bytes() == made[f"{name}_mask.png"]
    single = tmp_path / "scan03.png"
    assert main(["restore", str(scans / "scan03.png"), "-o", str(single), "-q"]) == 0
    assert single.read_bytes() == local_outputs["scan03.png"]


def test_ray_workers_the_cluster_cannot_place_are_given_up_with_a_warning(
    ray_local, home: Path, scans: Path, tmp_path: Path, local_outputs: dict, monkeypatch, capsys
) -> None:
    """3 workers of 1 CPU on a 2-CPU Ray: the third would hold its files for ever."""
    from engine.batch import runners

    monkeypatch.setattr(runners, "START_TIMEOUT_S", 3.0)
    out = tmp_path / "ray"
    assert batch(scans, out, "--engine", "ray", "--workers", "3") == 2
    assert "1 of 3 Ray workers could not be placed" in capsys.readouterr().err
    assert outputs(out) == local_outputs


def test_a_driver_killed_outright_loses_nothing(packs: Path, scans: Path, tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the ledger and the workers' deaths must be enough."""
    many = copies_of_scans(scans, tmp_path / "many", 24)
    out = tmp_path / "out"
    env = {**os.environ, "HEIRLOOM_HOME": str(packs)}
    command = [sys.executable, "-m", "engine.cli", "batch", str(many), "-o", str(out), "-q"]
    process = subprocess.Popen(command + ["--workers", "2"], env=env, stderr=subprocess.DEVNULL)
    stop_at_first_done(process, out, process.kill)
    process.wait(timeout=30)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    done = [r for r in records(out) if r["status"] == "done"]
    assert sorted(r["source"] for r in done) == sorted(p.name for p in many.iterdir())
    for record in done:
        stat = (out / record["output"]).stat()
        assert record["output_stat"] == [stat.st_size, stat.st_mtime_ns], record["output"]
    assert not list(out.rglob("*.heirloom-part"))


def test_a_changed_source_is_redone_and_a_foreign_output_needs_overwrite(
    home: Path, scans: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("scan00.jpg", "scan04.jpg"):
        (folder / name).write_bytes((scans / name).read_bytes())
    out = tmp_path / "out"
    assert batch(folder, out) == 0
    capsys.readouterr()
    (folder / "scan00.jpg").write_bytes((scans / "scan06.jpg").read_bytes())  # rescanned
    (folder / "scan07.jpg").write_bytes((scans / "scan07.jpg").read_bytes())
    (out / "scan07.jpg").write_bytes(b"someone else's file")
    assert batch(folder, out) == 2
    report = capsys.readouterr().out
    assert table(report)["this run"] == 1 and table(report)["earlier runs"] == 1
    assert "scan07.jpg already exists and this batch did not write it; use --overwrite" in report
    assert (out / "scan07.jpg").read_bytes() == b"someone else's file"
    assert batch(folder, out, "--overwrite") == 0
    assert table(capsys.readouterr().out)["this run"] == 1
    assert (out / "scan07.jpg").read_bytes() != b"someone else's file"


STOPPED_WHILE_BUILDING = """
import os, signal, sys
from multiprocessing import Pipe
from engine.batch import runners

built = runners.TaskWorker.__init__
def stopped_while_building(self, spec):
    os.kill(os.getpid(), signal.SIGTERM)  # the driver's close() lands here
    built(self, spec)
runners.TaskWorker.__init__ = stopped_while_building
ours, theirs = Pipe()
spec = runners.WorkerSpec("restore", {}, runners.Settings(), threads=1, home=sys.argv[1])
runners._serve(spec, theirs)
print("returned")
"""


def test_a_worker_stopped_while_it_is_built_unwinds_quietly(packs: Path) -> None:
    # CI once stopped a worker between its SIGTERM handler and its serving loop: the
    # KeyboardInterrupt escaped as a traceback under the user's "interrupted" line
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_WHILE_BUILDING, str(packs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == "returned"
