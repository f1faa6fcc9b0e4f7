"""Sweeps through Hydra's launcher plugins (joblib, submitit_local, Ray) and the feature cache
they share: each feature set is extracted once even when runs execute side by side.

Each test runs ``nk run -m`` in a subprocess with the slow, counting featurizer of
:mod:`nk.testing.slow`, registered by a small driver; the launcher's workers register it again
from the plugin manager's recipe. The Ray test starts a local cluster (2 CPUs, no dashboard).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nk.launch import plan, split_launcher_overrides

RUN_NK = ("import sys; import nk.testing.slow as slow_launch_plugin; from nk.cli import main; from nk.plugins import PluginManager; "
          "pm = PluginManager(); pm.register(slow_launch_plugin, name='nk-slow-launch-test'); "
          "sys.exit(main(sys.argv[1:], pm=pm))")

N_ROWS = 32  # 8 speakers × 4 emotions × 1 utterance
SMALL = ["data=demo", "data.demo.n_speakers=8", "data.demo.n_utterances=1", "feats=slow",
         "document.pdf=never", "results_root=res"]
EXTRACTED = re.compile(r"slow: extracted (\d+) new rows")


def _nk(tmp_path: Path, *args: str, timeout: float = 400, fail: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NK_")}
    env.update(NK_CACHE_DIR=str(tmp_path / "cache"), NK_TEST_COUNTER=str(tmp_path / "count"), COLUMNS="200",
               PYTHONPATH=os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    if fail:
        env["NK_TEST_FAIL"] = "1"
    return subprocess.run([sys.executable, "-c", RUN_NK, "run", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _check_sweep(tmp_path: Path, out: subprocess.CompletedProcess, models: list[str]) -> Path:
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (sweep,) = (tmp_path / "res" / "demo").iterdir()
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert list(ranking["rank"]) == list(range(1, len(models) + 1))
    assert set(ranking["overrides"].str.extract(r"model=(\w+)")[0]) == set(models)
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name[:4] for p in runs] == [f"{i:03d}_" for i in range(len(models))]
    assert all((p / "results.json").is_file() for p in runs)
    assert (sweep / "report.html").is_file()
    return sweep


def _extractions(tmp_path: Path, sweep: Path) -> tuple[int, list[int]]:
    """(rows the featurizer computed, rows each run's log says it extracted)."""
    count = len((tmp_path / "count").read_text().splitlines())
    logged = [sum(int(n) for n in EXTRACTED.findall(log.read_text())) for log in sorted(sweep.rglob("nk.log"))]
    return count, logged


def test_joblib_runs_side_by_side_and_extracts_each_feature_set_once(tmp_path):
    out = _nk(tmp_path, "-m", "model=svm,knn,tree", *SMALL, "feats.slow.delay=0.15",
              "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    sweep = _check_sweep(tmp_path, out, ["svm", "knn", "tree"])
    count, logged = _extractions(tmp_path, sweep)
    assert count == N_ROWS, f"rows extracted {count} times for {N_ROWS} rows (per run: {logged})"
    assert sorted(logged) == [0, 0, N_ROWS]
    assert "launcher joblib: 3 runs" in out.stdout
    waited = [log for log in sweep.rglob("nk.log") if "another run is extracting" in log.read_text()]
    assert waited, "the two runs started side by side, so one must have waited for the other"


def test_submitit_local_runs_the_sweep_into_the_same_folders(tmp_path):
    out = _nk(tmp_path, "-m", "model=svm,knn", *SMALL, "feats.slow.delay=0.05", "hydra/launcher=submitit_local",
              "hydra.launcher.timeout_min=10")
    sweep = _check_sweep(tmp_path, out, ["svm", "knn"])
    count, logged = _extractions(tmp_path, sweep)
    assert count == N_ROWS and sorted(logged) == [0, N_ROWS]


@pytest.mark.ray
def test_ray_launcher_on_a_local_cluster(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    out = _nk(tmp_path, "-m", "model=svm,knn", *SMALL, "feats.slow.delay=0.1", "hydra/launcher=ray",
              "+hydra.launcher.ray.init.num_cpus=2")
    sweep = _check_sweep(tmp_path, out, ["svm", "knn"])
    count, logged = _extractions(tmp_path, sweep)
    assert count == N_ROWS and sorted(logged) == [0, N_ROWS]


def test_a_failing_run_is_named_with_its_error_and_the_sweep_exits_2(tmp_path):
    out = _nk(tmp_path, "-m", "model=svm,knn", *SMALL, "feats.slow.delay=0", "hydra/launcher=joblib", fail=True)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert "told to fail" in out.stderr and "2 of 2 runs failed" in out.stderr
    assert "000_model=svm" in out.stderr and "Traceback" not in out.stderr


def test_an_unknown_launcher_fails_before_any_folder_names_the_installed_ones(tmp_path):
    out = _nk(tmp_path, "-m", "model=svm,knn", *SMALL, "hydra/launcher=jobflib")
    assert out.returncode == 2, out.stderr
    assert "jobflib" in out.stderr and "joblib" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "res").exists()


def test_launcher_overrides_need_a_sweep(tmp_path):
    out = _nk(tmp_path, *SMALL, "hydra/launcher=joblib")
    assert out.returncode == 2 and "-m" in out.stderr


@pytest.mark.parametrize(("overrides", "runs", "cores", "added", "n_jobs", "concurrent"), [
    pytest.param(["hydra/launcher=joblib"], 4, 2, ["hydra.launcher.n_jobs=2"], 1, 2, id="joblib-more-runs"),
    pytest.param(["hydra/launcher=joblib"], 2, 8, ["hydra.launcher.n_jobs=2"], 4, 2, id="joblib-more-cores"),
    pytest.param(["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"], 4, 8, [], 8, 1, id="joblib-user-n"),
    pytest.param(["hydra/launcher=ray"], 4, 8, ["+hydra.launcher.ray.init.include_dashboard=false"], 1, 4,
                 id="ray-local"),
    pytest.param(["hydra/launcher=ray", "+hydra.launcher.ray.init.address=auto",
                  "+hydra.launcher.ray.remote.num_cpus=4"], 4, 8, [], 4, 2, id="ray-join"),
    pytest.param(["hydra/launcher=submitit_local"], 4, 8, [], 2, 4, id="submitit-local"),
    pytest.param(["hydra/launcher=submitit_slurm"], 4, 8, [], None, 4, id="slurm-own-allocations"),
])
def test_plan_keeps_runs_times_workers_within_the_cores(overrides, runs, cores, added, n_jobs, concurrent):
    got = plan(overrides, runs, user_set_n_jobs=False, cores=cores)
    assert (got.launcher_overrides, got.run_n_jobs, got.concurrent) == (added, n_jobs, concurrent)
    assert plan(overrides, runs, user_set_n_jobs=True, cores=cores).run_n_jobs is None


def test_launcher_overrides_are_split_from_the_runs():
    runs, launcher = split_launcher_overrides(["model=svm,knn", "hydra/launcher=ray",
                                               "+hydra.launcher.ray.init.num_cpus=2", "n_jobs=1"])
    assert runs == ["model=svm,knn", "n_jobs=1"]
    assert launcher == ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"]
