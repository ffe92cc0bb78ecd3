import threading
import time

import numpy as np

from engine import runtime
from engine.errors import HeirloomError
from engine.images import save_image
from engine.jobs import (
    Emitter,
    Failed,
    Job,
    JobCancelled,
    JobRunner,
    Preview,
    Progress,
    Result,
    run_job,
)
from engine.models import SizeRule
from engine.tiling import run_tiled


class Recorder:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def __call__(self, job, event):
        with self.lock:
            self.events.append((job.id, event))

    def of(self, job):
        return [e for i, e in self.events if i == job.id]


def steps(n, delay=0.0, fail_at=None, error=RuntimeError):
    def fn(emit: Emitter, cancel):
        for i in range(n):
            cancel.check()
            if i == fail_at:
                raise error("the pixels are on fire")
            time.sleep(delay)
            emit.progress((i + 1) / n, "working")
        return Result({"x": np.zeros((2, 2, 1), np.float32)}, {"steps": n})

    return fn


def test_a_job_reports_progress_then_its_result():
    rec = Recorder()
    job = Job("count", steps(3))
    final = run_job(job, rec)
    kinds = [type(e) for e in rec.of(job)]
    assert kinds == [Progress, Progress, Progress, Result]
    assert final.info == {"steps": 3}


def test_errors_become_failed_events_and_the_runner_keeps_working():
    rec = Recorder()
    runner = JobRunner(rec)
    bug = runner.submit(Job("buggy", steps(5, fail_at=2)))
    user = runner.submit(Job("picky", steps(5, fail_at=1, error=HeirloomError)))
    fine = runner.submit(Job("fine", steps(2)))
    assert runner.wait_idle(5)
    runner.shutdown()
    bug_final, user_final = rec.of(bug)[-1], rec.of(user)[-1]
    assert isinstance(bug_final, Failed) and "the pixels are on fire" in bug_final.message
    assert "Traceback" in bug_final.detail
    assert isinstance(user_final, Failed) and user_final.message == "the pixels are on fire"
    assert user_final.detail == ""
    assert isinstance(rec.of(fine)[-1], Result)


def test_replace_cancels_the_running_job_and_drops_the_queued_ones():
    rec = Recorder()
    runner = JobRunner(rec)
    slow = runner.submit(Job("slow", steps(200, delay=0.01)))
    while not rec.of(slow):
        time.sleep(0.005)
    queued = runner.submit(Job("queued", steps(2)))
    latest = runner.submit(Job("latest", steps(2)), replace=True)
    assert runner.wait_idle(5)
    runner.shutdown()
    assert isinstance(rec.of(slow)[-1], JobCancelled)
    assert len(rec.of(slow)) < 50  # stopped early, not after 200 steps
    assert rec.of(queued) == [JobCancelled()]  # never started
    assert isinstance(rec.of(latest)[-1], Result)


def test_previews_are_throttled_but_the_last_one_always_arrives():
    sent = []
    emit = Emitter(sent.append, preview_interval=0.05)
    built = []

    def make():
        built.append(1)
        return np.zeros((2, 2, 3), np.float32)

    for step in range(1, 101):
        emit.preview(make, step, 100)
    assert 1 <= len(sent) < 10
    assert len(built) == len(sent)  # a throttled preview is never even built
    assert isinstance(sent[-1], Preview) and sent[-1].step == 100


def test_cancelling_a_tiled_save_job_leaves_no_output_file(tmp_path, conv_model):
    session = runtime.open_session(conv_model, "cpu")
    target = tmp_path / "restored.png"
    started = threading.Event()

    def fn(emit, cancel):
        def tile(batch):
            started.set()
            time.sleep(0.05)
            return session.run({"image": batch}, cancel)[0]

        image = np.random.default_rng(0).random((400, 400, 3), dtype=np.float32)
        out = run_tiled(
            tile,
            image,
            SizeRule(1, 1),
            tile=64,
            overlap=16,
            cancel=cancel,
            progress=lambda d, t: emit.progress(d / t, "restoring"),
        )
        save_image(target, out)
        return Result({"image": out})

    rec = Recorder()
    runner = JobRunner(rec)
    job = runner.submit(Job("restore", fn))
    started.wait(5)
    runner.cancel(job.id)
    assert runner.wait_idle(5)
    runner.shutdown()
    assert isinstance(rec.of(job)[-1], JobCancelled)
    assert not target.exists() and list(tmp_path.iterdir()) == [tmp_path / "conv.onnx"]
