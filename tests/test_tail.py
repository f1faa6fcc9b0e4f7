"""The run's tail (model file, reporters, report) in the process forked at the run's start."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from nk import hookimpl
from nk.errors import UserError

SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1", "document.pdf=never"]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the tail forks on Linux only")


@dataclass
class PidConfig:
    fail: bool = False


class PidReporter:
    """Writes the id of the process it runs in; process-safe, so it may run in the tail."""

    process_safe: ClassVar[bool] = True

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def report(self, result: dict[str, Any], ctx: Any) -> list[Any]:
        if self.fail:
            raise UserError("the pid reporter was told to fail", where="report.pid.fail")
        path = ctx.run_dir / "pid.txt"
        path.write_text(f"{os.getpid()} {type(result['model']).__name__}")
        return [path]


class PidPlugin:
    @hookimpl
    def nk_register_reporters(self, register):
        register("pid", PidReporter, PidConfig, description="writes its process id")


@pytest.fixture
def run(nk_experiment, nk_register_plugin):
    nk_register_plugin(PidPlugin(), name="nk-pid")
    return nk_experiment


@linux_only
def test_process_safe_reporters_and_the_model_file_are_written_by_the_forked_tail(run, monkeypatch):
    monkeypatch.setenv("NK_FORK_TAIL", "1")
    results, run_dir = run([*SMALL, "report=[plots,pid]"])
    pid, model = (run_dir / "pid.txt").read_text().split()
    assert int(pid) != os.getpid() and model == "CalibratedSVC"  # forked, and given the fitted model
    assert {"pid.txt", "confusion_matrix.png", "report.html", "model/model.skops"} <= set(results["artefacts"])
    assert (run_dir / "model" / "manifest.json").is_file()


def test_without_forking_the_run_writes_its_tail_itself(run, monkeypatch):
    monkeypatch.delenv("NK_FORK_TAIL", raising=False)  # the default
    results, run_dir = run([*SMALL, "report=[plots,pid]"])
    assert int((run_dir / "pid.txt").read_text().split()[0]) == os.getpid()
    assert "pid.txt" in results["artefacts"]


@linux_only
def test_a_user_error_in_the_forked_tail_reaches_the_run(run, monkeypatch):
    monkeypatch.setenv("NK_FORK_TAIL", "1")
    with pytest.raises(UserError, match="the pid reporter was told to fail") as info:
        run([*SMALL, "report=[pid]", "report.pid.fail=true"])
    assert info.value.where == "report.pid.fail"
