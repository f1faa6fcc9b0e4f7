"""nk-finetune on tiny local encoders (CPU, no network): contract suites on audio rows, the
training loss falls, saved models load in a new process, seeds, resume, push_to_hub with a fake
hub client, an nk run end to end, and option errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from rich.console import Console

from nk.errors import UserError
from nk.testing import LearnerContract
from nk_finetune.estimator import FinetuneClassifier, FinetuneRegressor
from nk_finetune.testing import tiny_encoder, tone_rows

QUICK = {"epochs": 4, "batch_size": 8, "learning_rate": 2e-3, "freeze_feature_encoder": False, "device": "cpu",
         "holdout": 0.25}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_encoder(tmp_path_factory.mktemp("models") / "tiny-wav2vec2")


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, np.ndarray]:
    return tone_rows(tmp_path_factory.mktemp("tones"), n=16)


class _AudioContract(LearnerContract):
    """The learner contract on audio rows (short tones) instead of a feature matrix."""

    rows: ClassVar[Any] = None
    labels: ClassVar[Any] = None

    @pytest.fixture(autouse=True)
    def _audio(self, tiny: Path, tones: tuple[Any, np.ndarray]) -> None:
        type(self).params = {**QUICK, "pretrained_model": str(tiny)}
        type(self).rows, type(self).labels = tones

    def _data(self, learner: Any) -> tuple[Any, Any]:
        from sklearn.base import is_regressor

        if is_regressor(learner):
            return self.rows, np.where(self.labels == "high", 60.0, 20.0) + np.arange(len(self.labels)) % 3
        return self.rows, self.labels


class TestFinetune(_AudioContract):
    name = "finetune"


class TestFinetuneReg(_AudioContract):
    name = "finetune_reg"


def test_training_lowers_the_loss_and_the_model_loads_in_a_new_process(tiny, tones, tmp_path):
    rows, y = tones
    model = FinetuneClassifier(pretrained_model=str(tiny), **{**QUICK, "holdout": 0.0}, random_state=0)
    model.fit(rows, y, run_dir=tmp_path / "run")
    losses = [h["train_loss"] for h in model.history_]
    assert len(losses) == 4 and losses[-1] < losses[0]
    best = next((tmp_path / "run" / "finetune").glob("fit-*/best"))
    assert (best / "model.safetensors").exists() and (best / "config.json").exists()
    assert not list((tmp_path / "run" / "finetune").glob("fit-*/checkpoints"))  # removed after training
    assert list((tmp_path / "run" / "finetune").glob("fit-*/tensorboard/events.out.tfevents.*"))
    model.save_model(tmp_path / "learner")
    expected = model.predict_proba(rows)
    np.save(tmp_path / "expected.npy", expected)
    rows.to_csv(tmp_path / "rows.csv")
    code = ("import sys, numpy as np, pandas as pd\n"
            "from nk_finetune.estimator import FinetuneClassifier\n"
            "m = FinetuneClassifier(device='cpu')\n"
            "m.load_model(sys.argv[1])\n"
            "rows = pd.read_csv(sys.argv[2], index_col=0)\n"
            "np.testing.assert_array_equal(m.predict_proba(rows), np.load(sys.argv[3]))\n"
            "print(m.classes_.tolist())\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "learner"), str(tmp_path / "rows.csv"),
                          str(tmp_path / "expected.npy")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['high', 'low']"


def test_same_seed_gives_the_same_predictions(tiny, tones):
    rows, y = tones
    settings = {**QUICK, "epochs": 2, "holdout": 0.0}
    a = FinetuneRegressor(pretrained_model=str(tiny), **settings, random_state=3).fit(rows, (y == "high") * 1.0)
    b = FinetuneRegressor(pretrained_model=str(tiny), **settings, random_state=3).fit(rows, (y == "high") * 1.0)
    np.testing.assert_array_equal(a.predict(rows), b.predict(rows))


class _Kill:
    """A Trainer callback that stops training like a kill after the first epoch's checkpoint."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny, tones, tmp_path, caplog, monkeypatch):
    rows, y = tones
    settings = {**QUICK, "epochs": 3, "holdout": 0.0}
    killed = FinetuneClassifier(pretrained_model=str(tiny), **settings, random_state=0)
    monkeypatch.setattr(FinetuneClassifier, "_extra_callbacks", (_Kill(),))
    with pytest.raises(KeyboardInterrupt):
        killed.fit(rows, y, run_dir=tmp_path / "exp" / "run1")
    monkeypatch.setattr(FinetuneClassifier, "_extra_callbacks", ())
    assert list((tmp_path / "exp" / "run1" / "finetune").glob("fit-*/checkpoints/checkpoint-*"))
    resumed = FinetuneClassifier(pretrained_model=str(tiny), **settings, resume=True, random_state=0)
    with caplog.at_level("INFO", logger="nk.finetune"):
        resumed.fit(rows, y, run_dir=tmp_path / "exp" / "run2")
    assert "resuming from" in caplog.text and "run1" in caplog.text
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]  # epoch 1 from the killed run's state


class FakeHub:
    calls: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self, token: str | None = None) -> None:
        FakeHub.calls.append(("init", token))

    def create_repo(self, repo_id: str, **kwargs: Any) -> None:
        FakeHub.calls.append(("create_repo", repo_id))

    def upload_folder(self, *, folder_path: str, repo_id: str, **kwargs: Any) -> None:
        FakeHub.calls.append(("upload_folder", (repo_id, sorted(p.name for p in Path(folder_path).iterdir()))))


def _run(nk_compose, nk_pm, run_dir, overrides):
    from nk.pipeline import run_experiment

    cfg = nk_compose(["data.demo.n_utterances=1", "n_jobs=1", "feats=[]", "model=finetune", *overrides])
    run_dir.mkdir(parents=True)
    return run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))


def test_nk_run_end_to_end_with_push_to_hub_and_the_token_nowhere(nk_compose, nk_pm, tiny, tmp_path, monkeypatch):
    import huggingface_hub

    token = "hf_secretTOKEN1234567890"
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    FakeHub.calls.clear()
    run_dir = tmp_path / "run"
    results = _run(nk_compose, nk_pm, run_dir, [f"model.pretrained_model={tiny}", "model.epochs=1",
                                                "model.device=cpu", "model.max_duration=0.5",
                                                "model.push_to_hub=true", "model.hub_model_id=me/tiny-emotion"])
    assert results["model_input"] == "audio" and results["test"]["uar"]["value"] >= 0
    assert list(run_dir.glob("finetune/fit-*/best/model.safetensors"))
    assert list(run_dir.glob("finetune/fit-*/tensorboard/events.out.tfevents.*"))
    assert (run_dir / "epochs.png").exists()
    from nk.results import load_model

    loaded = load_model(run_dir / "model")["model"]  # no secret needed to load it
    assert sorted(p.name for p in (run_dir / "model" / "learner" / "hf").iterdir()) == [
        "config.json", "model.safetensors", "preprocessor_config.json"]
    assert loaded.classes_.tolist() == sorted(results["test"]["labels"])
    assert ("init", token) in FakeHub.calls and ("create_repo", "me/tiny-emotion") in FakeHub.calls
    uploaded = dict(FakeHub.calls)["upload_folder"]
    assert uploaded[0] == "me/tiny-emotion" and "model.safetensors" in uploaded[1]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"the token is in {path}"


def test_option_errors(nk_compose, nk_pm, tiny, tones, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(UserError, match=r"push_to_hub=true needs model.hub_model_id"):
        _run(nk_compose, nk_pm, tmp_path / "a", ["model.push_to_hub=true"])
    with pytest.raises(UserError, match=r"needs a Hugging Face token"):
        _run(nk_compose, nk_pm, tmp_path / "b", ["model.push_to_hub=true", "model.hub_model_id=me/x"])
    rows, y = tones
    with pytest.raises(UserError, match=r"model.freeze_layers=5 but .* has 2 transformer layers"):
        FinetuneClassifier(pretrained_model=str(tiny), freeze_layers=5, device="cpu").fit(rows, y)
    with pytest.raises(UserError, match=r"The model folder .*no-such-model.* does not exist"):
        FinetuneClassifier(pretrained_model=str(tmp_path / "no-such-model"), device="cpu").fit(rows, y)
