"""nk ensemble: the ensemblers' definitions on hand-made frames, their contract, the paired
bootstrap, and the command on real runs (trained once per module)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nk.builtin.ensemblers import METHODS, uncertainty
from nk.cli import main
from nk.errors import UserError
from nk.metrics import paired_bootstrap
from nk.plugins import PluginManager
from nk.testing import EnsemblerContract

SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1", "bootstrap.n_resamples=100", "document.pdf=never"]


def frame(pred, proba=None, truth=None, **attrs):
    index = pd.Index([f"/x/{i}.wav" for i in range(len(pred))], name="file")
    out = pd.DataFrame({"truth": truth or ["a"] * len(pred), "pred": pred}, index=index)
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        out["proba.a"], out["proba.b"] = proba[:, 0], proba[:, 1]
    out.attrs.update(attrs)
    return out


def combine(name, frames, nk_context, **params):
    return nk_context.pm.registry.get("ensemble", name).build(params).combine(frames, nk_context)


# --- definitions --------------------------------------------------------------------------------


def test_uncertainty_is_normalised_entropy():
    u = uncertainty(np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]]))
    np.testing.assert_allclose(u, [1.0, 0.0, -(0.25 * np.log(0.25) + 0.75 * np.log(0.75)) / np.log(2)])


def test_majority_voting_of_two_runs_breaks_ties_by_mean_probability_else_first_run(nk_context):
    a = frame(["a", "b"], [[0.6, 0.4], [0.45, 0.55]])
    b = frame(["b", "b"], [[0.3, 0.7], [0.2, 0.8]])
    out = combine("majority_voting", [a, b], nk_context)
    assert out["pred"].tolist() == ["b", "b"]  # row 0 tied: mean p(b) = 0.55 > 0.45
    no_proba = [frame(["a", "b"]), frame(["b", "b"])]
    assert combine("majority_voting", no_proba, nk_context)["pred"].tolist() == ["a", "b"]  # tie: first run
    three = [frame(["a"]), frame(["b"]), frame(["b"])]
    assert combine("majority_voting", three, nk_context)["pred"].tolist() == ["b"]


def test_probability_methods_follow_their_definitions(nk_context):
    a = frame(["a"], [[0.9, 0.1]])  # certain-ish, votes a
    b = frame(["b"], [[0.35, 0.65]])
    c = frame(["b"], [[0.4, 0.6]])
    runs = [a, b, c]
    assert combine("mean", runs, nk_context)["pred"].tolist() == ["a"]  # mean p(a) = 0.55
    assert combine("sum", runs, nk_context)["pred"].tolist() == ["a"]
    assert combine("max", runs, nk_context)["pred"].tolist() == ["a"]  # max p(a) 0.9 > max p(b) 0.65
    assert combine("max_class", runs, nk_context)["pred"].tolist() == ["a"]
    assert combine("median", runs, nk_context)["pred"].tolist() == ["b"]  # median p(a) 0.4 < p(b) 0.6
    # uncertainty_threshold: the least uncertain run (a) decides when under the threshold …
    assert combine("uncertainty_threshold", runs, nk_context)["pred"].tolist() == ["a"]
    # … else the mean probability decides (here a again); a tighter case where they differ:
    d = frame(["b"], [[0.1, 0.9]])  # uncertainty 0.47
    e = frame(["a"], [[0.75, 0.25]])  # 0.81
    assert combine("uncertainty_threshold", [d, e, e], nk_context, threshold=1.0)["pred"].tolist() == ["b"]
    assert combine("uncertainty_threshold", [d, e, e], nk_context, threshold=0.4)["pred"].tolist() == ["a"]
    # weights: 1/u and 1-u per run, normalised over the runs
    p = np.array([[0.9, 0.1], [0.35, 0.65], [0.4, 0.6]])
    u = uncertainty(p)
    w = (1 / u) / (1 / u).sum()
    got = combine("uncertainty_weighted", runs, nk_context)
    np.testing.assert_allclose(got[["proba.a", "proba.b"]].to_numpy()[0], (w[:, None] * p).sum(axis=0))
    c_ = 1 - u
    got = combine("confidence_weighted", runs, nk_context)
    np.testing.assert_allclose(got[["proba.a", "proba.b"]].to_numpy()[0], (c_[:, None] * p).sum(axis=0) / c_.sum())


def test_performance_weighted_uses_dev_scores_and_stacking_fits_on_dev(nk_context):
    dev = {"truth": ["a", "b", "a", "b"], "pred": ["a", "b", "a", "b"],
           "proba": {"a": [0.9, 0.2, 0.8, 0.1], "b": [0.1, 0.8, 0.2, 0.9]}}
    bad_dev = {"truth": dev["truth"], "pred": ["b", "a", "b", "a"], "proba": {"a": [0.1, 0.8, 0.2, 0.9],
                                                                             "b": [0.9, 0.2, 0.8, 0.1]}}
    good = frame(["a"], [[0.6, 0.4]], dev_score=0.9, dev=dev)
    bad = frame(["b"], [[0.2, 0.8]], dev_score=0.1, dev=bad_dev)
    assert combine("performance_weighted", [good, bad], nk_context)["pred"].tolist() == ["a"]  # 0.9·0.6 + 0.1·0.2
    assert combine("mean", [good, bad], nk_context)["pred"].tolist() == ["b"]
    stacked = combine("stacking", [good, bad], nk_context)
    assert stacked["pred"].tolist() == ["a"]
    no_dev = frame(["a"], [[0.6, 0.4]], run="r1")
    with pytest.raises(UserError, match=r"no dev split.*split.dev_size"):
        combine("performance_weighted", [no_dev, bad], nk_context)
    with pytest.raises(UserError, match="no dev split"):
        combine("stacking", [no_dev, bad], nk_context)


def test_runs_without_probabilities_can_only_vote(nk_context):
    runs = [frame(["a"], run="svm run"), frame(["b"], [[0.2, 0.8]])]
    for name in ("mean", "max", "uncertainty_weighted", "stacking"):
        with pytest.raises(UserError, match=r"svm run has none.*majority_voting"):
            combine(name, runs, nk_context)


def test_regression_methods(nk_context):
    def reg(values, score=None):
        f = pd.DataFrame({"truth": [30.0, 40.0], "pred": values}, index=pd.Index(["/a.wav", "/b.wav"], name="file"))
        f.attrs.update(task="regression", dev_score=score)
        return f

    runs = [reg([20.0, 40.0], 0.5), reg([30.0, 50.0], 0.0), reg([100.0, 45.0], 0.5)]
    assert combine("mean", runs, nk_context)["pred"].tolist() == [50.0, 45.0]
    assert combine("median", runs, nk_context)["pred"].tolist() == [30.0, 45.0]
    assert combine("performance_weighted", runs, nk_context)["pred"].tolist() == [60.0, 42.5]
    for name in ("majority_voting", "max", "confidence_weighted"):
        with pytest.raises(UserError, match=r"for classification.*mean, median, performance_weighted"):
            combine(name, runs, nk_context)


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    truth = rng.choice(["a", "b"], 200)
    noisy = np.where(rng.uniform(size=200) < 0.5, truth, rng.choice(["a", "b"], 200))
    same = paired_bootstrap(truth, noisy, noisy, task="classification", n_resamples=200)
    assert same["difference"] == 0 and same["p_value"] == 1.0
    better = paired_bootstrap(truth, truth, noisy, task="classification", n_resamples=200)
    assert better["difference"] > 0.15 and better["p_value"] < 0.01 and better["ci"][0] > 0
    speakers = np.repeat([f"s{i}" for i in range(4)], 50)
    few = paired_bootstrap(truth, truth, noisy, task="classification", groups=speakers, n_resamples=100)
    assert few["ci_method"] == "rows_within_speakers" and few["n_speakers"] == 4
    x = rng.normal(size=100)
    reg = paired_bootstrap(x, x + rng.normal(scale=0.1, size=100), x + rng.normal(scale=1, size=100),
                           task="regression", n_resamples=100)
    assert reg["difference"] > 0 and reg["p_value"] < 0.05


# --- contract suites ----------------------------------------------------------------------------


class _WithDev(EnsemblerContract):
    """The contract's frames plus what nk ensemble adds for dev-based methods."""

    @pytest.fixture
    def predictions(self):
        index = pd.Index([f"/x/{i}.wav" for i in range(6)], name="file")
        rng = np.random.default_rng(1)
        out = []
        for _ in range(3):
            p_a, dev_a = rng.uniform(0, 1, len(index)), rng.uniform(0, 1, 8)
            f = pd.DataFrame({"truth": ["a", "b"] * 3, "pred": np.where(p_a > 0.5, "a", "b"),
                              "proba.a": p_a, "proba.b": 1 - p_a}, index=index)
            f.attrs.update(dev_score=float(rng.uniform(0.4, 0.9)),
                           dev={"truth": ["a", "b"] * 4, "pred": ["a"] * 8,
                                "proba": {"a": dev_a.tolist(), "b": (1 - dev_a).tolist()}})
            out.append(f)
        return out


for _name, *_ in METHODS:
    _base = _WithDev if _name in ("performance_weighted", "stacking") else EnsemblerContract
    globals()[f"TestContract_{_name}"] = type(f"TestContract_{_name}", (_base,), {"name": _name})


# --- the command on real runs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two classification runs with a dev split (svm, knn) and two regression runs, trained once."""
    root = tmp_path_factory.mktemp("ens")
    cache = tmp_path_factory.getbasetemp() / "nk-cache"
    common = [*SMALL, f"results_root={root / 'results'}", f"cache_dir={cache}", "split.dev_size=0.25"]
    out = {}
    for key, extra in (("svm", ["name=svm"]), ("knn", ["name=knn", "model=knn"]),
                       ("svr", ["name=svr", "target=age", "model=svr"]),
                       ("knn_reg", ["name=knn_reg", "target=age", "model=knn_reg"])):
        assert main(["run", *common, *extra], pm=PluginManager()) == 0
        (out[key],) = (root / "results" / key).iterdir()
    out["root"] = root
    out["common"] = [f"results_root={root / 'results'}", "bootstrap.n_resamples=100", "document.pdf=never"]
    return out


def ensemble(runs, *args):
    return main(["ensemble", *args, *runs["common"]], pm=PluginManager())


def latest(runs, name="ensemble"):
    """The folder of the last finished ensemble (folder names of one second sort by method)."""
    done = (runs["root"] / "results" / name).glob("*/results.json")
    return max(done, key=lambda p: p.stat().st_mtime_ns).parent


def test_every_method_writes_a_run_like_folder(runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the console's table and lines unwrapped
    names = [m[0] for m in METHODS]
    assert len(names) == 11
    for method in names:
        assert ensemble(runs, str(runs["svm"]), str(runs["knn"]), "--method", method) == 0, method
        folder = latest(runs)
        assert folder.name.endswith(method)
        files = {p.name for p in folder.iterdir()}
        assert {"results.json", "predictions.csv", "comparison.csv", "confusion_matrix.png", "report.html",
                "config.yaml", "nk.log"} <= files
        results = json.loads((folder / "results.json").read_text())
        assert results["method"] == method and "ci" in results["test"]["uar"]
        assert results["best_single"]["chosen_on"] == "dev"
        assert 0 <= results["versus_best_single"]["p_value"] <= 1
        comparison = pd.read_csv(folder / "comparison.csv")
        assert len(comparison) == 3 and comparison["best single"].sum() == 1
        pred = pd.read_csv(folder / "predictions.csv", index_col=0)
        truth = pd.read_csv(runs["svm"] / "predictions.csv", index_col=0)["truth"]
        assert list(pred.index) == list(truth.index) and "speaker" in pred.columns
    out = capsys.readouterr().out
    assert "paired bootstrap" in out and "ensemble (stacking)" in out
    html = (latest(runs) / "report.html").read_text()
    assert "paired bootstrap" in html and "logistic regression" in html  # the method's definition


def test_experiment_names_mean_their_latest_finished_run(runs, capsys):
    failed = runs["svm"].parent / "9999-99-99_99-99-99"  # sorts last, but failed
    failed.mkdir()
    (failed / "FAILED").write_text("This run failed.\n")
    try:
        assert ensemble(runs, "svm", "knn", "ensemble=mean") == 0
        inputs = json.loads((latest(runs) / "results.json").read_text())["inputs"]
        assert [i["run_dir"] for i in inputs] == [str(runs["svm"]), str(runs["knn"])]
        assert ensemble(runs, str(failed), "knn") == 2
        assert "failed and holds no results" in capsys.readouterr().err
    finally:
        shutil.rmtree(failed)
    assert ensemble(runs, "svm", "nosuch") == 2
    assert "No run folder or experiment named 'nosuch'" in capsys.readouterr().err
    assert ensemble(runs, "svm") == 2
    assert "two or more runs" in capsys.readouterr().err


def test_runs_must_share_test_rows_and_labels(runs, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(runs["knn"], other)
    pred = pd.read_csv(other / "predictions.csv")
    dropped = pred["file"].iloc[0]
    pred.iloc[1:].to_csv(other / "predictions.csv", index=False)
    assert ensemble(runs, str(runs["svm"]), str(other)) == 2
    err = capsys.readouterr().err
    assert "do not share the same test rows" in err and Path(dropped).name in err
    pred = pd.read_csv(runs["knn"] / "predictions.csv")
    pred.loc[0, "truth"] = "sad" if pred.loc[0, "truth"] != "sad" else "angry"
    pred.to_csv(other / "predictions.csv", index=False)
    assert ensemble(runs, str(runs["svm"]), str(other)) == 2
    assert "different test labels on 1 rows" in capsys.readouterr().err
    assert ensemble(runs, str(runs["svm"]), str(runs["svr"])) == 2
    assert "predict different things" in capsys.readouterr().err


def test_dev_weights_need_a_dev_split(runs, tmp_path, capsys):
    other = tmp_path / "nodev"
    shutil.copytree(runs["knn"], other)
    (other / "dev_predictions.csv").unlink()
    results = json.loads((other / "results.json").read_text())
    results["dev"] = None
    (other / "results.json").write_text(json.dumps(results))
    assert ensemble(runs, str(runs["svm"]), str(other), "--method", "performance_weighted") == 2
    assert "has no dev split" in capsys.readouterr().err
    assert ensemble(runs, str(runs["svm"]), str(other), "--method", "mean") == 0  # best single: chosen on test
    assert json.loads((latest(runs) / "results.json").read_text())["best_single"]["chosen_on"].startswith("test")


def test_regression_runs(runs, capsys, tmp_path):
    for method in ("mean", "median"):
        assert ensemble(runs, str(runs["svr"]), str(runs["knn_reg"]), "--method", method) == 0
        folder = latest(runs)
        results = json.loads((folder / "results.json").read_text())
        assert results["primary"] == "ccc" and (folder / "truth_vs_prediction.png").exists()
    # 2 utterances per class give dev CCCs near 0 (weights 0): give the copies known dev scores
    copies = []
    for key, score in (("svr", 0.6), ("knn_reg", 0.2)):
        copies.append(tmp_path / key)
        shutil.copytree(runs[key], copies[-1])
        results = json.loads((copies[-1] / "results.json").read_text())
        results["dev"]["ccc"]["value"] = score
        (copies[-1] / "results.json").write_text(json.dumps(results))
    assert ensemble(runs, *map(str, copies), "--method", "performance_weighted") == 0
    pred = pd.read_csv(latest(runs) / "predictions.csv", index_col=0)["pred"]
    a, b = (pd.read_csv(c / "predictions.csv", index_col=0)["pred"] for c in copies)
    np.testing.assert_allclose(pred.to_numpy(), (0.75 * a + 0.25 * b).loc[pred.index].to_numpy())
    assert ensemble(runs, str(runs["svr"]), str(runs["knn_reg"]), "--method", "majority_voting") == 2
    assert "for classification" in capsys.readouterr().err
