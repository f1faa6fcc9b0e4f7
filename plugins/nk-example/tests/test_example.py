"""The example plugin passes nk's contract suites and runs in an experiment."""

from __future__ import annotations

from nk.testing import FeaturizerContract, LearnerContract


class TestZcr(FeaturizerContract):
    name = "zcr"


class TestCentroid(LearnerContract):
    name = "centroid"


def test_zcr_tells_loud_from_quiet(nk_pm):
    import numpy as np

    zcr = nk_pm.registry.get("feats", "zcr").build({"frame_ms": 25.0, "silence_db": -50.0})
    t = np.arange(16000) / 16000
    loud = zcr.extract((0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    quiet = zcr.extract((0.01 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    assert loud[2] > quiet[2] + 20  # 34 dB apart


def test_experiment_uses_the_plugin(nk_compose, nk_pm, tmp_path):
    from rich.console import Console

    from nk.pipeline import run_experiment

    cfg = nk_compose(["feats=zcr", "model=centroid", "data.demo.n_utterances=2", "n_jobs=1"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert results["components"]["feats"] == ["zcr"]
    assert results["n_features"] == 5
