"""The demo's quiet terminal: a stage's own output (prints, warnings, child processes) lands in its log, the
terminal gets one line per stage; a failure is one line naming the log; ``verbose`` lets everything through."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from rspipeline import demo_cli
from rspipeline.demo.console import Console, StageError

NOISY_SCRIPT = """import sys, warnings
print("lightning banner")
warnings.warn("a library's warning")
sys.exit(int(sys.argv[1]))
"""


def visible_lines(text: str) -> list[str]:
    """The newline-ended lines as a terminal leaves them (a progress bar redraws in place with carriage returns)."""
    return [line.rsplit("\r", 1)[-1].strip() for line in text.split("\n")[:-1]]


def noisy_script(tmp_path: Path) -> Path:
    script = tmp_path / "stage.py"
    script.write_text(NOISY_SCRIPT)
    return script


def test_a_stage_prints_one_line_and_its_output_goes_to_its_log(tmp_path: Path) -> None:
    terminal = io.StringIO()
    with Console(tmp_path / "logs", terminal=terminal) as console, console.stage("set-train", "set: train"):
        print("printed in process")
        print("printed to stderr", file=sys.stderr)
        console.run_script(noisy_script(tmp_path), "0")
        for _ in console.progress(range(3)):
            pass
    (line,) = visible_lines(terminal.getvalue())
    assert line.startswith("set: train") and line.endswith(" s")
    assert "set: train" in console.timings
    log = (tmp_path / "logs" / "set-train.log").read_text()
    for text in ("printed in process", "printed to stderr", "a library's warning", "lightning banner", "stage.py 0"):
        assert text in log
        assert text not in terminal.getvalue()


def test_a_failing_stage_is_one_error_naming_the_script_and_its_log(tmp_path: Path) -> None:
    terminal = io.StringIO()
    with pytest.raises(StageError) as failure, Console(tmp_path / "logs", terminal=terminal) as console:
        with console.stage("set-objects", "set: objects"):
            console.run_script(noisy_script(tmp_path), "3")
    message = str(failure.value)
    assert "set: objects failed" in message and "stage.py exited with status 3" in message
    assert str(tmp_path / "logs" / "set-objects.log") in message and "\n" not in message
    assert "lightning banner" in (tmp_path / "logs" / "set-objects.log").read_text()
    assert terminal.getvalue() == ""


def test_an_exception_in_a_stage_names_the_stage(tmp_path: Path) -> None:
    with (
        pytest.raises(StageError, match=r"set: sweep failed \(.*no tiles.*\); its output is in .*set-sweep\.log"),
        Console(tmp_path / "logs", terminal=io.StringIO()) as console,
        console.stage("set-sweep", "set: sweep"),
    ):
        raise ValueError("no tiles")


def test_verbose_lets_the_output_through(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    terminal = io.StringIO()
    with Console(tmp_path / "logs", verbose=True, terminal=terminal) as console, console.stage("s", "set: train"):
        console.run_script(noisy_script(tmp_path), "0")
    captured = capfd.readouterr()
    assert "lightning banner" in captured.out and "a library's warning" in captured.err
    assert terminal.getvalue().splitlines()[0] == "set: train ..."
    assert not (tmp_path / "logs").exists()


def test_demo_command_line_ends_a_bad_option_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        demo_cli.main(["--out", "o", "--sets", "nowhere"])
    assert exit_status.value.code == 2
    assert "invalid choice: 'nowhere'" in capsys.readouterr().err
