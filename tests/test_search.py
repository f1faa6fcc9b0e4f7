"""Issue 17 (3): ``nk run -m hydra/sweeper=optuna …`` searches on dev, never on test, reports the
chosen configuration's test score once, and shows the search history in the sweep report."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from omegaconf import OmegaConf

from nk.errors import UserError

SMALL = ["data.demo.n_utterances=1", "feats=mfcc", "n_jobs=1", "bootstrap.n_resamples=100", "document.pdf=never"]
DEV = ["split.dev_size=0.25", "split.test_size=0.25"]


class _NoTest(Mapping):
    """A results mapping whose test part cannot be read: the objective must not need it."""

    def __init__(self, data: Mapping[str, Any], seen: list[str]) -> None:
        self._data, self._seen = data, seen

    def __getitem__(self, key: str) -> Any:
        self._seen.append(key)
        if key == "test":
            raise AssertionError("the search objective read the test results")
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_optuna_search_chooses_on_dev_and_quotes_test_once(nk_compose, nk_pm, capsys, monkeypatch):
    import nk.search
    from nk.cli import main

    seen: list[str] = []
    values: list[float] = []
    real = nk.search.objective_value

    def spy(results):
        value, what = real(_NoTest(results, seen))
        values.append(value)
        return value, what

    monkeypatch.setattr(nk.search, "objective_value", spy)
    monkeypatch.setenv("COLUMNS", "250")
    nk_compose([])
    assert main(["run", "-m", "hydra/sweeper=optuna", "model=svm", "model.C=tag(log,interval(0.01,100))",
                 "hydra.sweeper.n_trials=3", "hydra.sweeper.sampler.seed=7", *SMALL, *DEV, "results_root=res"],
                pm=nk_pm) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "test" not in seen and "dev" in seen and len(values) == 3
    (sweep,) = Path("res/demo").iterdir()
    search = json.loads((sweep / "search.json").read_text())
    assert search["sweeper"] == "optuna" and search["seed"] == 7 and search["objective"] == "dev"
    assert [t["number"] for t in search["trials"]] == [0, 1, 2]
    runs = {t["run_dir"]: json.loads((sweep / t["run_dir"] / "results.json").read_text()) for t in search["trials"]}
    for trial, value in zip(search["trials"], values, strict=True):
        run = runs[trial["run_dir"]]
        assert trial["value"] == value == run["dev"]["uar"]["value"]
        ran = OmegaConf.load(sweep / trial["run_dir"] / "config.yaml")
        assert 0.01 <= trial["params"]["model.C"] <= 100 and float(ran.model.C) == trial["params"]["model.C"]
    assert [t["best_so_far"] for t in search["trials"]] == pd.Series(values).cummax().tolist()
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert len(ranking) == 3 and set(ranking["ranked_on"]) == {"dev"} and "not_worse" in ranking
    assert ranking["run_dir"].iloc[0] == search["best"]["run_dir"]
    pick = runs[search["best"]["run_dir"]]
    assert out.count("its test UAR") == 1 and f"its test UAR: {pick['test']['uar']['value']:.3f}" in out
    assert out.count("on dev (best so far") == 3
    html = (sweep / "report.html").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Search" in text and "3 trials of the optuna sweeper (TPESampler, seed 7)" in text
    assert "the test split is never read to choose" in text and "best so far" in text
    assert (sweep / "search_history.png").stat().st_size > 5000
    assert html.count("data:image/png;base64,") == 3  # ranking, by setting, history


def test_the_same_seed_samples_the_same_trials(nk_compose, nk_pm):
    """Checked without running: the sampler is seeded, so the search is reproducible."""
    import optuna

    from nk.search import search_space

    fixed, space, written = search_space(["model=svm", "model.C=interval(0.01,100)", "model.kernel=rbf,linear"])
    assert fixed == ["model=svm"] and written == {"model.C": "interval(0.01,100)", "model.kernel": "rbf,linear"}

    def draws(seed: int) -> list[dict[str, Any]]:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        out = []
        for i in range(3):
            trial = study.ask(dict(space))
            study.tell(trial, float(i))
            out.append(trial.params)
        return out

    assert draws(3) == draws(3) != draws(4)


@pytest.mark.parametrize(("items", "expected"), [
    pytest.param(["model.C=interval(0.01,100)"], {"model.C": ("Float", 0.01, 100.0, False)}, id="interval"),
    pytest.param(["model.C=tag(log,interval(0.01,100))"], {"model.C": ("Float", 0.01, 100.0, True)}, id="log"),
    pytest.param(["model.n_neighbors=tag(int,interval(1,9))"], {"model.n_neighbors": ("Int", 1, 9, False)},
                 id="int-interval"),
    pytest.param(["model.n_neighbors=range(1,9,2)"], {"model.n_neighbors": ("Int", 1, 7, False)}, id="range"),
])
def test_sweeps_become_optuna_distributions(items, expected):
    from nk.search import search_space

    _, space, _ = search_space(items)
    for key, (kind, low, high, log) in expected.items():
        dist = space[key]
        assert type(dist).__name__ == f"{kind}Distribution" and (dist.low, dist.high, dist.log) == (low, high, log)


def test_choices_are_categorical():
    from nk.search import search_space, trial_overrides

    _, space, _ = search_space(["model=svm,knn", "model.kernel=choice(rbf,linear)"])
    assert space["model"].choices == ("svm", "knn") and space["model.kernel"].choices == ("rbf", "linear")
    assert trial_overrides(["feats=mfcc"], {"model": "knn", "model.C": 0.123456789}) == \
        ["model=knn", "model.C=0.123457", "feats=mfcc"]


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["hydra/sweeper=optunna", "model.C=interval(1,2)"], ["Unknown sweeper", "basic, optuna"],
                 id="unknown-sweeper"),
    pytest.param(["hydra/sweeper=optuna", "model.C=interval(5,1)"], ["interval of model.C is empty"],
                 id="empty-interval"),
    pytest.param(["hydra/sweeper=optuna", "model.C=tag(log,interval(0,1))"], ["log-scale interval", "above 0"],
                 id="log-at-zero"),
    pytest.param(["hydra/sweeper=optuna", "model=svm", "model.C=interval(-1,1)"],
                 ["search space of model.C reaches a value the config does not accept", "model.C=-1"],
                 id="out-of-bounds"),
    pytest.param(["hydra/sweeper=optuna", "model.C=interval(0.1,1", "model=svm"], ["Cannot read the search space"],
                 id="unclosed"),
    pytest.param(["hydra/sweeper=optuna", "model=svm", "model.C=interval(0.1,1)", "hydra.sweeper.n_trails=3"],
                 ["Unknown setting hydra.sweeper.n_trails", "hydra.sweeper.n_trials"], id="unknown-setting"),
    pytest.param(["hydra/sweeper=optuna", "model=svm", "model.C=interval(0.1,1)", "hydra.sweeper.n_trials=0"],
                 ["hydra.sweeper.n_trials='0' is not valid"], id="zero-trials"),
    pytest.param(["hydra/sweeper=optuna", "model=svm", "model.C=interval(0.1,1)", "hydra.sweeper.direction=minimize"],
                 ["UAR and CCC are maximised"], id="minimize"),
    pytest.param(["hydra/sweeper=optuna", "model=svm"], ["nothing to search"], id="no-space"),
    pytest.param(["hydra.sweeper.n_trials=3", "model=svm,knn"], ["setting of the Optuna sweeper"],
                 id="settings-without-optuna"),
    pytest.param(["hydra/sweeper=optuna", "model=svm", "feats=glob(m*)"], ["a glob cannot be searched"], id="glob"),
])
def test_bad_searches_are_user_errors_before_any_run(nk_compose, nk_pm, capsys, args, expected):
    from nk.cli import main

    nk_compose([])
    assert main(["run", "-m", *args, *SMALL, "results_root=res"], pm=nk_pm) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    for part in expected:
        assert part in err, err
    assert not Path("res").exists()


def test_a_search_needs_dev_or_inner_folds():
    from nk.search import objective_value

    with pytest.raises(UserError, match="needs a dev split or inner cross-validation"):
        objective_value({"primary": "uar", "dev": None, "test": {"uar": {"value": 0.9}}, "run_dir": "x"})
    assert objective_value({"primary": "uar", "dev": {"uar": {"value": 0.4}}}) == (0.4, "dev")


def test_without_dev_the_search_chooses_by_inner_cv_on_train(nk_compose, nk_pm, capsys, monkeypatch):
    import nk.search
    from nk.cli import main

    seen: list[str] = []
    real = nk.search.objective_value
    monkeypatch.setattr(nk.search, "objective_value", lambda results: real(_NoTest(results, seen)))
    nk_compose([])
    assert main(["run", "-m", "hydra/sweeper=optuna", "model=knn", "model.n_neighbors=range(1,6)",
                 "hydra.sweeper.n_trials=2", *SMALL, "results_root=res"], pm=nk_pm) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "test" not in seen
    (sweep,) = Path("res/demo").iterdir()
    search = json.loads((sweep / "search.json").read_text())
    assert search["objective"] == "inner 3-fold CV on train"
    for trial in search["trials"]:
        run = json.loads((sweep / trial["run_dir"] / "results.json").read_text())
        assert run["dev"] is None and run["inner_cv"]["n_folds"] == 3 and run["inner_cv"]["grouped_by"] == "speaker"
        assert trial["value"] == run["inner_cv"]["mean"] == pytest.approx(sum(run["inner_cv"]["scores"]) / 3)
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert set(ranking["ranked_on"]) == {"inner_cv"}
    train_rows = len(pd.read_csv(sweep / ranking["run_dir"].iloc[0] / "inner_cv_predictions.csv"))
    assert train_rows == 32 and ranking["significance_note"].iloc[1].startswith("32 inner_cv rows")
    assert 0 < ranking["p_bootstrap"].iloc[1] <= 1
    assert out.count("its test UAR") == 1 and "Chosen on inner CV on train" in out and "Do not use it" not in out


def test_inner_folds_need_enough_train_speakers(nk_compose, nk_pm, capsys):
    from nk.cli import main

    nk_compose([])
    assert main(["run", "search.inner_folds=40", *SMALL, "results_root=res"], pm=nk_pm) == 2
    assert "search.inner_folds=40 needs at least 40 train speakers; train has 8" in " ".join(
        capsys.readouterr().err.split())
