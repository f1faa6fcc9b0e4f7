"""Issue 17 (4): each run of a sweep against the best on the ranking's rows — paired speaker
bootstrap, exact McNemar, Holm — in ranking.csv, the console and the sweep report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nk.metrics import holm, mcnemar, paired_bootstrap
from nk.significance import COLUMNS

SMALL = ["data.demo.n_utterances=1", "feats=mfcc", "n_jobs=1", "bootstrap.n_resamples=200"]


def test_holm_on_a_known_example():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])  # one comparison: unchanged
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


def test_mcnemar_is_exact_on_the_discordant_rows():
    truth = np.array(["a"] * 12)
    a = np.array(["a"] * 12)
    b = np.array(["b"] * 10 + ["a"] * 2)  # a alone is right on 10 rows, never b alone
    result = mcnemar(truth, a, b)
    assert (result["a_only"], result["b_only"]) == (10, 0)
    assert result["p_greater"] == pytest.approx(0.5 ** 10)
    assert mcnemar(truth, a, a)["p_greater"] == 1.0  # no discordant rows


def _speakers_frame(n_speakers: int, per: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_speakers * per
    truth = rng.choice(["angry", "happy", "sad"], n)
    good = np.where(rng.uniform(size=n) < 0.85, truth, rng.choice(["angry", "happy", "sad"], n))
    return pd.DataFrame({"file": [f"/db/s{i // per}_{i}.wav" for i in range(n)], "truth": truth, "pred": good,
                         "speaker": [f"s{i // per}" for i in range(n)]})


def test_the_shared_paired_bootstrap_resamples_speakers_for_both_systems():
    frame = _speakers_frame(12, 10, 0)
    same = paired_bootstrap(frame["truth"], frame["pred"], frame["pred"], task="classification",
                            groups=frame["speaker"], n_resamples=200)
    assert same["difference"] == 0 and same["p_greater"] == 1.0 and same["ci_method"] == "speaker"
    chance = np.random.default_rng(1).choice(["angry", "happy", "sad"], len(frame))
    worse = paired_bootstrap(frame["truth"], frame["pred"], chance, task="classification",
                             groups=frame["speaker"], n_resamples=200)
    assert worse["difference"] > 0.3 and worse["ci"][0] > 0 and worse["p_greater"] == pytest.approx(1 / 201)


def _fake_run(sweep: Path, name: str, pred: pd.DataFrame, value: float) -> dict:
    run_dir = sweep / name
    run_dir.mkdir(parents=True)
    pred.set_index("file").to_csv(run_dir / "dev_predictions.csv")
    entry = {"value": value, "ci": [value - 0.1, value + 0.1], "ci_level": 0.95, "ci_method": "speaker",
             "n_resamples": 200}
    return {"primary": "uar", "task": "classification", "run_dir": str(run_dir), "dev": {"uar": entry},
            "test": {"uar": entry}, "environment": {"seed": 0}}


def test_identical_run_is_not_worse_bad_run_is_worse_other_rows_are_not_tested(tmp_path):
    from nk.report.sweep import rank_runs
    from nk.significance import summary_text

    best = _speakers_frame(12, 10, 0)
    bad = best.assign(pred=np.random.default_rng(2).choice(["angry", "happy", "sad"], len(best)))
    other = _speakers_frame(12, 10, 0).assign(file=lambda f: f["file"].str.replace("/db/", "/other/"))
    results = [_fake_run(tmp_path, "000_best", best, 0.85), _fake_run(tmp_path, "001_same", best, 0.85),
               _fake_run(tmp_path, "002_bad", bad, 0.30), _fake_run(tmp_path, "003_other", other, 0.20)]
    jobs = [["model=svm"], ["model=svm2"], ["model=knn"], ["data=other"]]
    ranking = rank_runs(results, jobs, tmp_path).set_index("run_dir")
    assert set(COLUMNS) <= set(ranking.columns)
    assert ranking.loc["000_best", "not_worse"] and ranking.loc["000_best", "significance_note"] == "the best run"
    same = ranking.loc["001_same"]
    assert same["vs_best_difference"] == 0 and same["p_bootstrap"] == pytest.approx(1.0)
    assert same["p_bootstrap_holm"] == pytest.approx(1.0) and same["p_mcnemar"] == 1.0 and same["not_worse"]
    assert "12 speakers resampled" in same["significance_note"]
    worse = ranking.loc["002_bad"]
    assert worse["vs_best_difference"] > 0.3 and worse["p_bootstrap_holm"] < 0.05 and not worse["not_worse"]
    assert worse["p_mcnemar_holm"] < 0.001
    untested = ranking.loc["003_other"]
    assert untested["not_worse"] is None and np.isnan(untested["p_bootstrap"])
    assert "not tested: different dev rows than the best run (120 only in the best run" in untested["significance_note"]
    text = summary_text(ranking.reset_index())
    assert "not significantly worse: rank 2" in text and "significantly worse: rank 3" in text
    assert "not tested (see significance_note): rank 4" in text and "Holm-adjusted over 2 comparisons" in text


def test_a_sweep_ranks_with_significance_in_csv_console_and_report(nk_compose, nk_pm, capsys, monkeypatch):
    from nk.cli import main

    monkeypatch.setenv("COLUMNS", "250")  # the table's headers on one line
    nk_compose([])
    assert main(["run", "-m", "model=knn,tree", *SMALL, "split.dev_size=0.25", "split.test_size=0.25",
                 "results_root=res", "document.pdf=never"], pm=nk_pm) == 0
    out = " ".join(capsys.readouterr().out.split())
    (sweep,) = Path("res/demo").iterdir()
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert set(COLUMNS) <= set(ranking.columns)
    assert ranking["not_worse"].iloc[0] and ranking["significance_note"].iloc[0] == "the best run"
    second = ranking.iloc[1]
    assert second["vs_best_difference"] == pytest.approx(ranking["value"].iloc[0] - second["value"])
    assert 0 < second["p_bootstrap"] <= 1 and second["p_bootstrap_holm"] == pytest.approx(second["p_bootstrap"])
    assert 0 < second["p_mcnemar"] <= 1 and "dev rows" in second["significance_note"]
    dev_rows = len(pd.read_csv(sweep / ranking["run_dir"].iloc[0] / "dev_predictions.csv"))
    assert second["significance_note"].startswith(f"{dev_rows} dev rows")
    assert "vs best" in out and "p (Holm)" in out and "Against the best run (paired bootstrap of UAR on dev, rows resampled within" in out
    html = (sweep / "report.html").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Against the best run" in text and "p McNemar (Holm)" in text and "vs best" in text
    assert (sweep / "sweep_factors.png").stat().st_size > 5000
    assert "by each setting the sweep varies" in text


def test_the_factor_plot_finds_what_varies(tmp_path):
    from nk.report.sweep import plot_factors, swept_factors

    overrides = ["model=svm feats=a seed=1", "model=knn feats=a seed=1", "model=svm feats=b seed=1",
                 "model=knn feats=b seed=1"]
    assert swept_factors(overrides) == {"model": ["svm", "knn", "svm", "knn"], "feats": ["a", "a", "b", "b"]}
    ranking = pd.DataFrame({"overrides": overrides, "ranked_on": "dev", "value": [0.8, 0.7, 0.6, 0.5],
                            "ci_low": [0.7, 0.6, 0.5, 0.4], "ci_high": [0.9, 0.8, 0.7, 0.6]})
    assert plot_factors(ranking, tmp_path / "f.png", metric="uar", level=95).stat().st_size > 5000
    assert plot_factors(ranking.assign(overrides="model=svm"), tmp_path / "g.png", metric="uar", level=95) is None
    numeric = ranking.assign(overrides=["model.C=0.01", "model.C=0.5", "model.C=10", "model.C=100"])
    assert plot_factors(numeric, tmp_path / "h.png", metric="uar", level=95).is_file()


def test_a_regression_sweep_has_no_mcnemar(tmp_path):
    from nk.report.sweep import rank_runs

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    rows = {"file": [f"/f{i}.wav" for i in range(60)], "truth": x, "speaker": [f"s{i % 12}" for i in range(60)]}
    results = []
    for name, noise, value in (("000_a", 0.1, 0.9), ("001_b", 1.0, 0.5)):
        pred = pd.DataFrame({**rows, "pred": x + rng.normal(scale=noise, size=60)})
        r = _fake_run(tmp_path, name, pred, value)
        r.update(primary="ccc", task="regression", dev={"ccc": r["dev"]["uar"]}, test={"ccc": r["dev"]["uar"]})
        results.append(r)
    ranking = rank_runs(results, [["a=1"], ["a=2"]], tmp_path)
    assert ranking["p_mcnemar"].isna().all() and ranking["p_bootstrap_holm"].iloc[1] < 0.05
    json.dumps(ranking.to_dict(orient="records"), default=str)  # serialisable as ranking.csv is
