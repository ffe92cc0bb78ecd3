"""Batch progress: a redrawn bar on a terminal, plain lines in a log, failures always."""

import io

from engine.batch.progress import BatchProgress, duration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_redrawn_bar_and_failures_on_their_own_lines():
    screen = Terminal()
    progress = BatchProgress(total=3, done_before=1, stream=screen)
    progress.file("a.jpg", ok=True, device="CPU")
    progress.file("b.jpg", ok=False, error="not an image Heirloom can read")
    progress.finish()
    text = screen.getvalue()
    assert "\r[" in text and "FAILED  b.jpg: not an image Heirloom can read\n" in text
    assert "2/3 done, 1 failed, 0 left" in text and text.endswith("\n")
    assert progress.devices == {"CPU": 1} and progress.left == 0


def test_a_log_gets_status_lines_at_each_tenth_not_per_file():
    log = io.StringIO()
    progress = BatchProgress(total=100, stream=log)
    for index in range(100):
        progress.file(f"{index}.jpg", ok=True)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 11  # the first file, then each tenth
    assert lines[-1].startswith("100/100 done, 0 failed, 0 left, ")


def test_durations_read_like_a_person_plans():
    assert [duration(s) for s in (12, 247, 11100)] == ["12s", "4m07s", "3h05m"]
