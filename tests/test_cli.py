"""The ``nk`` command: help, plugins, runs, sweeps, and user errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

HEAVY = ("torch", "transformers", "opensmile")
SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1"]


@pytest.mark.parametrize("code", [
    pytest.param("import nk.cli", id="import-cli"),
    pytest.param("import nk.cli; nk.cli.main(['--help'])", id="help"),
    pytest.param("import nk.cli; nk.cli.main(['plugins'])", id="plugins"),
])
def test_cli_imports_nothing_heavy(code):
    probe = f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\nprint('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


def test_help_lists_commands(run_nk):
    out = run_nk("--help")
    assert out.returncode == 0
    assert "run" in out.stdout and "plugins" in out.stdout


def test_plugins_lists_distributions_and_components(run_nk):
    out = run_nk("plugins")
    assert out.returncode == 0, out.stderr
    for text in ("nk-opensmile", "egemaps", "svm", "demo", "register_featurizers"):
        assert text in out.stdout


def test_plugins_shows_a_components_parameters(run_nk):
    out = run_nk("plugins", "svm")
    assert out.returncode == 0
    assert "model.C" in out.stdout and "> 0" in out.stdout


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["model=svn"], [r"Unknown model 'svn'", "svm", "knn", "tree"], id="unknown-model"),
    pytest.param(["model.C=-1"], [r"'C' parameter of model 'svm'", "> 0", "-1"], id="negative-C"),
    pytest.param(["+model.Cval=3"], ["Cval", "model 'svm'", "C, "], id="added-unknown-key"),
    pytest.param(["model.Cval=3"], ["Cval", "model 'svm'"], id="unknown-key"),
    pytest.param(["model.kernel=foo"], ["foo", "linear, rbf, poly, sigmoid"], id="bad-enum"),
    pytest.param(["model.C=abc"], ["abc", "model.C"], id="bad-type"),
    pytest.param(["feats=[mfcc,nope]"], ["Unknown feats 'nope'", "egemaps", "mfcc"], id="unknown-feats"),
    pytest.param(["experiment=polsh"], ["Unknown experiment 'polsh'", "polish, polish_loso", "conf/experiment/polsh.yaml"],
                 id="unknown-experiment"),
    pytest.param(["nope=1"], ["nope", "top-level keys"], id="unknown-top-key"),
    pytest.param(["n_jobs=0"], ["n_jobs=0", "-1 for all cores"], id="zero-jobs"),
    pytest.param(["model=svm,"], ["parse", "override"], id="bad-syntax"),
    pytest.param(["target=nope", *SMALL], ["'nope' is not in the data", "emotion"], id="unknown-target"),
    pytest.param(["model=svr", *SMALL], ["'svr' does regression", "classification"], id="wrong-task"),
    pytest.param(["target=age", "data.demo.n_speakers=8", *SMALL],
                 ["occur in test but not in train", "'age' is numeric but classified", "model=svr"],
                 id="numeric-target-classified"),
])
def test_user_errors_are_one_paragraph_exit_2(run_nk, args, expected):
    out = run_nk("run", *args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    text = " ".join(out.stderr.split())
    for part in expected:
        assert part in text, text


def test_run_writes_results(run_nk, tmp_path):
    out = run_nk("run", *SMALL, "results_root=res", "name=small")
    assert out.returncode == 0, out.stderr
    assert "UAR" in out.stdout and "CI" in out.stdout
    (run_dir,) = (tmp_path / "res" / "small").iterdir()
    for name in ("config.yaml", "results.json", "predictions.csv", "confusion_matrix.png", "nk.log",
                 "model/model.skops", "model/preprocessor.skops", "model/spec.json", "model/manifest.json"):
        assert (run_dir / name).is_file(), name
    results = json.loads((run_dir / "results.json").read_text())
    assert results["primary"] == "uar" and results["evaluated_on"] == "test"
    low, high = results["test"]["uar"]["ci"]
    assert low <= results["test"]["uar"]["value"] <= high
    pred = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    assert {"truth", "pred", "proba.angry", "proba.sad"} <= set(pred.columns)

    # a second run never overwrites the first
    assert run_nk("run", *SMALL, "results_root=res", "name=small").returncode == 0
    assert len(list((tmp_path / "res" / "small").iterdir())) == 2


def test_multirun_ranks_runs(run_nk, tmp_path):
    out = run_nk("run", "-m", "model=svm,knn,tree", *SMALL, "results_root=res")
    assert out.returncode == 0, out.stderr
    (sweep,) = (tmp_path / "res" / "demo").iterdir()
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert list(ranking["rank"]) == [1, 2, 3]
    assert set(ranking["overrides"].str.extract(r"model=(\w+)")[0]) == {"svm", "knn", "tree"}
    assert ranking["value"].is_monotonic_decreasing
    assert (ranking["ci_low"] <= ranking["value"]).all()
    assert "Sweep ranking" in out.stdout


def test_multirun_fails_before_running_when_one_job_is_invalid(run_nk, tmp_path):
    out = run_nk("run", "-m", "model=svm,svn", *SMALL, "results_root=res")
    assert out.returncode == 2 and "svn" in out.stderr
    assert not (tmp_path / "res").exists()


def test_cfg_prints_the_composed_config(run_nk):
    out = run_nk("run", "--cfg", "model=knn", "model.n_neighbors=3")
    assert out.returncode == 0
    assert "n_neighbors: 3" in out.stdout and "name: knn" in out.stdout
