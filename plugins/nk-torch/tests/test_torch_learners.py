"""nk-torch: contract suites, layer order, losses, dev-based epoch choice, hold-out, seeds,
saving without pickles, the log-mel featurizer, and runs on the demo corpus."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from rich.console import Console

from nk.errors import UserError
from nk.testing import FeaturizerContract, LearnerContract
from nk_torch.estimators import CnnClassifier, MlpClassifier, MlpRegressor
from nk_torch.spectrogram import LogMel
from nk_torch.training import ccc_loss, focal_loss, holdout_split

FAST = {"epochs": 30, "patience": 5}


class TestMlp(LearnerContract):
    name = "mlp"
    params = FAST


class TestMlpReg(LearnerContract):
    name = "mlp_reg"
    params = FAST


class TestCnn(LearnerContract):
    name = "cnn"
    params = {**FAST, "n_mels": 1, "channels": [4]}  # the contract's rows: 1 band × 5 frames


class TestCnnReg(LearnerContract):
    name = "cnn_reg"
    params = {**FAST, "n_mels": 1, "channels": [4], "loss": "mse"}


class TestLogMel(FeaturizerContract):
    name = "logmel"
    params = {"n_mels": 16, "duration": 0.5}


def _blobs(n: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = np.where(X[:, 0] + noise * rng.standard_normal(n) > 0, "angry", "neutral")
    return X, y


def test_layer_order_is_kept_with_activations():
    X, y = _blobs(40, 0)
    model = MlpClassifier(layers=(8, 32, 4), epochs=2, dropout=0.1, activation="tanh", random_state=0).fit(X, y)
    kinds = [type(m).__name__ for m in model.module_]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert [m.out_features for m in model.module_ if isinstance(m, torch.nn.Linear)] == [8, 32, 4, 2]


def test_ccc_loss_known_value():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    # means 2.5 / 5, variances 1.25 / 5, covariance 2.5: CCC = 5 / (1.25 + 5 + 6.25) = 0.4
    assert float(ccc_loss(pred, 2 * pred)) == pytest.approx(0.6, abs=1e-6)
    assert float(ccc_loss(pred, pred)) == pytest.approx(0.0, abs=1e-6)
    assert float(ccc_loss(pred, -pred + 5)) == pytest.approx(2.0, abs=1e-6)


def test_focal_loss_with_gamma_zero_is_weighted_cross_entropy():
    logits = torch.tensor([[2.0, 0.5], [0.1, 0.3], [1.0, -1.0]])
    target = torch.tensor([0, 1, 1])
    weight = torch.tensor([1.0, 3.0])
    expected = torch.nn.functional.cross_entropy(logits, target, weight=weight)
    assert float(focal_loss(logits, target, weight, gamma=0.0)) == pytest.approx(float(expected), rel=1e-6)
    assert float(focal_loss(logits, target, weight, gamma=2.0)) < float(expected)


def test_best_epoch_is_chosen_on_dev_and_training_stops():
    X, y = _blobs(200, 0, noise=1.5)
    X_dev, y_dev = _blobs(80, 1, noise=1.5)
    model = MlpClassifier(layers=(128, 64), dropout=0.0, epochs=200, patience=5, learning_rate=1e-2,
                          random_state=0).fit(X, y, X_dev=X_dev, y_dev=y_dev)
    history = model.history_
    assert len(history) < 200 and model.selection_ == "dev"
    scores = [h["dev_uar"] for h in history]
    assert model.best_epoch_ == int(np.argmax(scores)) + 1  # first epoch with the best dev UAR
    assert len(history) == model.best_epoch_ + 5  # patience epochs after the best one
    assert all(h["train_loss"] > 0 for h in history)


def test_without_dev_a_speaker_disjoint_slice_of_train_is_held_out(caplog):
    X, y = _blobs(120, 0)
    speakers = np.repeat([f"s{i}" for i in range(12)], 10)
    train, held, sentence = holdout_split(120, (y == "angry").astype(int), speakers, 0.25, 3, True)
    assert not set(speakers[train]) & set(speakers[held]) and len(set(speakers[held])) == 3
    assert "3 of 12 training speakers" in sentence
    again = holdout_split(120, (y == "angry").astype(int), speakers, 0.25, 3, True)
    np.testing.assert_array_equal(held, again[1])  # seeded
    with caplog.at_level(logging.INFO, logger="nk.torch"):
        model = MlpClassifier(epochs=5, random_state=0).fit(X, y, groups=speakers)
    assert model.selection_ == "held-out speakers of train" and "dev_uar" in model.history_[0]
    assert "no dev split; held out" in caplog.text and "training speakers" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nk.torch"):
        MlpClassifier(epochs=2, random_state=0).fit(X, y)
    assert "speakers are unknown" in caplog.text
    last = MlpClassifier(epochs=4, holdout=0.0, random_state=0).fit(X, y)
    assert last.best_epoch_ == 4 and "dev_uar" not in last.history_[0]


def test_same_seed_same_predictions_other_seed_differs():
    X, y = _blobs(100, 0)
    a = MlpClassifier(epochs=5, random_state=1).fit(X, y).predict_proba(X)
    b = MlpClassifier(epochs=5, random_state=1).fit(X, y).predict_proba(X)
    c = MlpClassifier(epochs=5, random_state=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_regressor_learns_on_the_original_scale():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4)).astype(np.float32)
    y = 40 + 10 * X[:, 0] + rng.standard_normal(120)
    for loss in ("ccc", "mse", "mae"):
        model = MlpRegressor(loss=loss, epochs=30, patience=10, learning_rate=1e-2, random_state=0).fit(X, y)
        pred = model.predict(X)
        assert np.corrcoef(pred, y)[0, 1] > 0.9 and abs(pred.mean() - 40) < 3, loss


SUBPROCESS_PREDICT = """
import json, sys, numpy as np
from nk_torch import estimators
X = np.load(sys.argv[1])
for i, (cls, params, method) in enumerate(json.loads(sys.argv[2])):
    model = getattr(estimators, cls)(**params)
    model.load_model(sys.argv[3] + f"/m{i}")
    np.save(sys.argv[3] + f"/out{i}.npy", getattr(model, method)(X))
"""


def test_saved_models_load_in_a_new_process_with_identical_predictions(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8)).astype(np.float32)
    cases = [("MlpClassifier", {"epochs": 3, "random_state": 0}, "predict_proba"),
             ("MlpRegressor", {"epochs": 3, "random_state": 0}, "predict"),
             ("CnnClassifier", {"epochs": 3, "random_state": 0, "n_mels": 2, "channels": [4]}, "predict_proba")]
    expected = []
    for i, (cls, params, method) in enumerate(cases):
        y = X[:, 0] * 3 if cls == "MlpRegressor" else np.where(X[:, 0] > 0, "a", "b")
        model = {"MlpClassifier": MlpClassifier, "MlpRegressor": MlpRegressor, "CnnClassifier": CnnClassifier}[cls]
        fitted = model(**params).fit(X, y)
        fitted.save_model(tmp_path / f"m{i}")
        assert sorted(p.name for p in (tmp_path / f"m{i}").iterdir()) == ["estimator.json", "model.safetensors"]
        json.loads((tmp_path / f"m{i}" / "estimator.json").read_text())  # plain JSON, no pickle
        expected.append(getattr(fitted, method)(X))
    np.save(tmp_path / "X.npy", X)
    subprocess.run([sys.executable, "-c", SUBPROCESS_PREDICT, str(tmp_path / "X.npy"), json.dumps(cases),
                    str(tmp_path)], check=True, capture_output=True, text=True)
    for i, values in enumerate(expected):
        np.testing.assert_array_equal(np.load(tmp_path / f"out{i}.npy", allow_pickle=False), values)


def test_pickle_holds_the_state_dict_not_the_module():
    X, y = _blobs(40, 0)
    model = MlpClassifier(epochs=2, random_state=0).fit(X, y)
    data = pickle.dumps(model)
    assert b"torch.nn" not in data and b"torch._utils" not in data
    np.testing.assert_array_equal(pickle.loads(data).predict_proba(X), model.predict_proba(X))


def test_bad_options_are_user_errors_naming_the_parameter():
    X, y = _blobs(20, 0)
    with pytest.raises(UserError, match=r"model\.layers=\[0\].*at least one unit"):
        MlpClassifier(layers=(0,)).fit(X, y)
    with pytest.raises(UserError, match=r"model\.loss=ccc is not a classification loss.*cross_entropy, focal"):
        MlpClassifier(loss="ccc").fit(X, y)
    with pytest.raises(UserError, match=r"not a multiple of 40"):
        CnnClassifier().fit(X, y)


def test_cuda_without_a_gpu_is_a_user_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, y = _blobs(20, 0)
    with pytest.raises(UserError, match=r"model\.device=cuda but torch sees no CUDA GPU"):
        MlpClassifier(device="cuda", epochs=1).fit(X, y)


def test_logmel_patch_shape_and_band_of_a_tone():
    mel = LogMel(n_mels=20, duration=0.5, win_ms=25.0, hop_ms=10.0, fmin=50.0, fmax=8000.0)
    assert len(mel.feature_names()) == 20 * 50 and mel.feature_names()[:2] == ["mel00_t000", "mel00_t001"]
    t = np.arange(16000) / 16000
    low = mel.extract((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000).reshape(20, 50)
    high = mel.extract((0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32), 16000).reshape(20, 50)
    assert low.mean(axis=1).argmax() < high.mean(axis=1).argmax()
    short = mel.extract(np.full(1600, 0.1, dtype=np.float32), 16000).reshape(20, 50)
    assert short.shape == (20, 50) and short[:, -5:].max() == pytest.approx(-100.0)  # padded with silence


# --- runs on the demo corpus ---------------------------------------------------------------


def _run(nk_compose, nk_pm, tmp_path, overrides):
    from nk.pipeline import run_experiment

    cfg = nk_compose(["data.demo.n_utterances=2", "n_jobs=1", *overrides])
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True)
    return run_experiment(cfg, nk_pm, run_dir, Console(quiet=True)), run_dir, cfg


def test_mlp_run_learns_the_demo_corpus_and_draws_epochs(nk_compose, nk_pm, tmp_path):
    from nk.results import load_model

    results, run_dir, cfg = _run(nk_compose, nk_pm, tmp_path,
                                 ["data.demo.n_utterances=4", "feats=mfcc", "model=mlp", "model.layers=[64,16]",
                                  "model.epochs=40"])
    n_classes = len(results["test"]["labels"])
    assert results["test"]["uar"]["value"] > 1.5 / n_classes  # well above chance
    assert (run_dir / "epochs.png").stat().st_size > 0
    assert "Training curve of the neural model" in (run_dir / "report.html").read_text(encoding="utf-8")
    fitted = load_model(run_dir / "model")["model"]
    assert fitted.random_state == cfg.seed and fitted.selection_ == "held-out speakers of train"
    assert sorted(p.name for p in (run_dir / "model" / "learner").iterdir()) == ["estimator.json",
                                                                                 "model.safetensors"]
    assert "no dev split; held out" in (run_dir / "nk.log").read_text(encoding="utf-8")


def test_mlp_reg_run_selects_on_dev_and_cnn_runs_on_logmel(nk_compose, nk_pm, tmp_path):
    from nk.results import load_model

    results, run_dir, _ = _run(nk_compose, nk_pm, tmp_path,
                               ["feats=mfcc", "target=age", "model=mlp_reg", "model.epochs=15",
                                "split.dev_size=0.25", "split.test_size=0.25"])
    assert results["test"]["primary"] == "ccc" and (run_dir / "epochs.png").exists()
    assert results["model_selection"].startswith("dev") and results["data"]["rows"]["test"] > 0
    fitted = load_model(run_dir / "model")["model"]
    rows = results["data"]["rows"]
    assert fitted.selection_ == "dev" and "dev_ccc" in fitted.history_[0]
    assert (fitted.n_train_, fitted.n_dev_) == (rows["train"], rows["dev"])  # test rows never reached fit
    results, run_dir, _ = _run(nk_compose, nk_pm, tmp_path / "cnn",
                               ["data.demo.n_utterances=1", "feats=logmel", "feats.logmel.duration=0.5",
                                "feats.logmel.n_mels=16", "model=cnn", "model.n_mels=16", "model.epochs=3"])
    assert results["components"]["feats"] == ["logmel"] and (run_dir / "epochs.png").exists()


def test_config_errors_name_the_parameter(nk_compose, nk_pm, tmp_path):
    with pytest.raises(UserError, match=r"model\.layers=\[0\]") as info:
        _run(nk_compose, nk_pm, tmp_path, ["model=mlp", "model.layers=[0]"])
    assert "positive integers" in str(info.value)
    with pytest.raises(UserError, match=r"model\.loss") as info:
        _run(nk_compose, nk_pm, tmp_path / "b", ["model=mlp", "model.loss=ccc"])
    assert "cross_entropy" in str(info.value) and "focal" in str(info.value)
