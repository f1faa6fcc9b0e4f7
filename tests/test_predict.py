"""The predict stage (nk.predict), `nk predict` and the built-in `run` predictor, with toy
predictors registered by the tests (core names no plugin component)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from nk import hookimpl
from nk.cli import main
from nk.errors import ContractError, UserError
from nk.predict import CATEGORY, FLOAT, RowPredictor, check_outputs
from nk.registry import param

CALLS: list[str] = []  # files the toy predictor extracted (reset by each test that reads it)

DEMO = "data.demo.n_utterances=1"
SMALL = [DEMO, "n_jobs=1", "report=[]"]


@dataclass
class LoudConfig:
    scale: float = param(1.0, gt=0, help="multiplies the RMS")


class Loud(RowPredictor):
    """RMS level per row (a toy RowPredictor); remembers which files it computed."""

    target = "loud"

    def __init__(self, *, scale: float) -> None:
        self.scale = scale

    def output_columns(self) -> dict[str, str]:
        return {"loud_pred": FLOAT, "loudness_pred": CATEGORY}

    def feature_names(self):
        return ["rms"]

    def extract(self, signal, sampling_rate):
        CALLS.append("x")
        return np.array([self.scale * np.sqrt(np.mean(signal ** 2))], dtype=np.float32)

    def finish(self, values, frame, ctx):
        rms = values["rms"].astype(float)
        return pd.DataFrame({"loud_pred": rms, "loudness_pred": np.where(rms > rms.median(), "loud", "soft")},
                            index=values.index)


@dataclass
class NoConfig:
    pass


class Liar:
    """Declares one column and returns another (a plugin bug the stage must catch)."""

    def output_columns(self):
        return {"x_pred": FLOAT}

    def predict(self, frame, ctx):
        return pd.DataFrame({"y_pred": 1.0}, index=frame.index)


class Plugin:
    @hookimpl
    def nk_register_predictors(self, register):
        register("loud", Loud, LoudConfig, description="toy RMS predictor")
        register("liar", Liar, NoConfig, description="returns undeclared columns")


@pytest.fixture
def pm(nk_pm, nk_register_plugin):
    nk_register_plugin(Plugin(), name="toy-predictors")
    return nk_pm


def test_check_outputs_rejects_bad_frames(tiny_corpus):
    good = pd.DataFrame({"a_pred": np.ones(len(tiny_corpus))}, index=tiny_corpus.index)
    assert check_outputs(good, tiny_corpus, {"a_pred": FLOAT}, "p", []) is good
    with pytest.raises(ContractError, match="same index"):
        check_outputs(good.iloc[1:], tiny_corpus, {"a_pred": FLOAT}, "p", [])
    with pytest.raises(ContractError, match="declares"):
        check_outputs(good, tiny_corpus, {"b_pred": FLOAT}, "p", [])
    with pytest.raises(ContractError, match="missing"):
        check_outputs(good.assign(a_pred=np.nan), tiny_corpus, {"a_pred": FLOAT}, "p", [])
    with pytest.raises(ContractError, match="number"):
        check_outputs(good.assign(a_pred="x"), tiny_corpus, {"a_pred": FLOAT}, "p", [])
    with pytest.raises(UserError, match="already has"):
        check_outputs(good, tiny_corpus, {"a_pred": FLOAT}, "p", ["a_pred"])


def test_nk_predict_caches_and_writes_a_loadable_table(pm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = [*SMALL, f"cache_dir={tmp_path / 'cache'}", f"results_root={tmp_path / 'r'}"]
    CALLS.clear()
    assert main(["predict", "predict=[loud]", *common], pm=pm) == 0
    first = len(CALLS)
    (run,) = (tmp_path / "r" / "demo").glob("*-predict")
    table = pd.read_csv(run / "table.csv")
    assert first == len(table) > 0
    assert {"file", "speaker", "emotion", "loud_pred", "loudness_pred"} <= set(table.columns)
    info = json.loads((run / "predict.json").read_text())
    assert info["columns"]["loud_pred"]["estimated"] and info["columns"]["loudness_pred"]["kind"] == "category"
    assert (run / "plots" / "pred_loud_pred.png").exists() and (run / "plots" / "pred_loudness_pred.png").exists()
    CALLS.clear()
    assert main(["predict", "predict=[loud]", *common], pm=pm) == 0
    assert CALLS == []  # every row from the cache
    assert main(["predict", "predict=[loud]", "predict.loud.scale=2", *common], pm=pm) == 0
    assert len(CALLS) == first  # a key parameter changed: computed again
    # the table loads again, predicted columns included
    assert main(["run", "data=csv", f"data.csv.path={run / 'table.csv'}", "target=loudness_pred", "feats=mfcc",
                 *[c for c in common if c != DEMO]], pm=pm) == 0


def test_predict_split_keeps_only_those_rows(pm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "predict=[loud]", "prediction.split=test", "prediction.plots=false",
                 "prediction.report=false", *SMALL, f"cache_dir={tmp_path / 'c'}",
                 f"results_root={tmp_path / 'r'}"], pm=pm) == 0
    (run,) = (tmp_path / "r" / "demo").glob("*-predict")
    table = pd.read_csv(run / "table.csv")
    assert set(table["split"]) == {"test"} and not (run / "plots").exists()


def test_undeclared_columns_are_a_contract_error(pm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ContractError, match="declares"):  # a plugin bug: with its traceback
        main(["predict", "predict=[liar]", *SMALL, f"cache_dir={tmp_path / 'c'}",
              f"results_root={tmp_path / 'r'}"], pm=pm)


def test_predicting_an_existing_column_is_refused(pm, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    common = [*SMALL, f"cache_dir={tmp_path / 'c'}", f"results_root={tmp_path / 'r'}"]
    assert main(["predict", "predict=[loud]", *common], pm=pm) == 0
    (run,) = (tmp_path / "r" / "demo").glob("*-predict")
    assert main(["predict", "predict=[loud]", "data=csv", f"data.csv.path={run / 'table.csv'}",
                 "target=emotion", *[c for c in common if c != DEMO]], pm=pm) == 2
    assert "already has" in capsys.readouterr().err


def test_run_predictor_labels_data_with_a_trained_model(pm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = [*SMALL, f"cache_dir={tmp_path / 'c'}", f"results_root={tmp_path / 'r'}", "feats=mfcc"]
    assert main(["run", *common], pm=pm) == 0
    (trained,) = [p for p in (tmp_path / "r" / "demo").iterdir() if p.is_dir()]
    assert main(["predict", "predict=run", f"predict.run.path={trained}", "predict.run.column=emo", *common],
                pm=pm) == 0
    (run,) = (tmp_path / "r" / "demo").glob("*-predict")
    table = pd.read_csv(run / "table.csv")
    assert "emo_pred" in table.columns
    assert (table["emo_pred"] == table["emotion"]).mean() > 0.3  # the model learnt something
