"""nk-transformers through `nk run`: the stored vector is cached once, layers are views of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

DEMO = ["data.demo.n_utterances=2", "n_jobs=1", "model=svm"]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Signals per forward pass of every Encoder in this test (the model's real forward runs)."""
    from nk_transformers.encoder import Encoder

    calls: list[int] = []
    original = Encoder._forward

    def forward(self: Encoder, pieces: list[Any]) -> Any:
        calls.append(len(pieces))
        return original(self, pieces)

    monkeypatch.setattr(Encoder, "_forward", forward)
    return calls


def _nk(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    from nk.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return main(args)


def test_run_end_to_end_with_a_local_model(tiny_models: dict[str, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, counted: list[int]) -> None:
    model = tiny_models["wav2vec2_group"]
    code = _nk(["run", "feats=wav2vec2", f"feats.wav2vec2.model={model}", *DEMO,
                "results_root=res", "name=e2e", "feats.wav2vec2.hf_token=hf_do_not_leak"],
               tmp_path, monkeypatch)
    assert code == 0
    (run_dir,) = (tmp_path / "res" / "e2e").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert 0.0 <= results["test"]["uar"]["value"] <= 1.0
    rows = sum(counted)
    assert rows > 0 and len(counted) < rows, "rows are batched"
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".log", ".csv", ".txt", ".html"):
            assert "hf_do_not_leak" not in path.read_text(errors="replace"), path
    for path in (tmp_path / "cache").rglob("*.json"):  # spec.json holds no secret
        assert "hf_do_not_leak" not in path.read_text(), path


def test_layer_sweep_extracts_once(tiny_models: dict[str, Path], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, counted: list[int]) -> None:
    model = tiny_models["hubert"]
    base = ["feats=hubert", f"feats.hubert.model={model}", *DEMO, "results_root=res"]
    # one layer into a separate cache: how many signals one extraction sends through the model
    assert _nk(["run", *base, f"cache_dir={tmp_path / 'other'}", "name=one"], tmp_path, monkeypatch) == 0
    once = sum(counted)
    assert once > 0
    counted.clear()
    assert _nk(["run", "-m", *base, "feats.hubert.layer=0,1,2", "name=sweep"], tmp_path, monkeypatch) == 0
    assert sum(counted) == once, "three layers, one extraction"
    (sweep,) = (tmp_path / "res" / "sweep").iterdir()
    assert len(pd.read_csv(sweep / "ranking.csv")) == 3
    counted.clear()
    # another layer and pooling: no forward pass at all
    assert _nk(["run", *base, "feats.hubert.layer=-1", "feats.hubert.pooling=mean_std", "name=again"],
               tmp_path, monkeypatch) == 0
    assert sum(counted) == 0
    # max_duration is part of the key: it recomputes
    assert _nk(["run", *base, "feats.hubert.max_duration=1.5", "name=rekey"], tmp_path, monkeypatch) == 0
    assert sum(counted) >= once


def test_views_name_the_columns(tiny_models: dict[str, Path], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_models["wavlm"]
    code = _nk(["run", "feats=wavlm", f"feats.wavlm.model={model}", "feats.wavlm.layers=[1,2]",
                "feats.wavlm.layer_combine=concat", "feats.wavlm.pooling=mean_std", *DEMO,
                "results_root=res", "name=cols"], tmp_path, monkeypatch)
    assert code == 0
    (run_dir,) = (tmp_path / "res" / "cols").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["n_features"] == 2 * 2 * 32


def test_layer_out_of_range_stops_the_run(tiny_models: dict[str, Path], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = _nk(["run", "feats=wavlm", f"feats.wavlm.model={tiny_models['wavlm']}", "feats.wavlm.layer=7",
                *DEMO, "results_root=res"], tmp_path, monkeypatch)
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Layer 7 is out of range" in err and "feats.wavlm.layer" in err and "Traceback" not in err
