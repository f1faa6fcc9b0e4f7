"""nk-opensmile: contract suites, feature counts, and eGeMAPS + SVM on the demo corpus."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from nk.testing import FeaturizerContract


class TestEgemaps(FeaturizerContract):
    name = "egemaps"


class TestGemaps(FeaturizerContract):
    name = "gemaps"


class TestCompare(FeaturizerContract):
    name = "compare"


@pytest.mark.parametrize(("name", "count"), [("egemaps", 88), ("gemaps", 62), ("compare", 6373)])
def test_feature_counts(nk_pm, name, count):
    comp = nk_pm.registry.get("feats", name)
    assert len(comp.build(comp.defaults()).feature_names()) == count


def test_louder_signal_has_higher_loudness(nk_pm):
    comp = nk_pm.registry.get("feats", "egemaps")
    smile = comp.build(comp.defaults())
    names = list(smile.feature_names())
    t = np.arange(16000) / 16000
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6)).astype(np.float32)
    i = names.index("loudness_sma3_amean")
    assert smile.extract(0.5 * tone, 16000)[i] > smile.extract(0.05 * tone, 16000)[i]


def test_egemaps_svm_on_demo_is_learnable_but_not_trivial(nk_compose, nk_pm, tmp_path):
    from nk.pipeline import run_experiment

    cfg = nk_compose([])  # the defaults: demo corpus, eGeMAPS, SVM, speaker-disjoint test
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    uar = results["test"]["uar"]["value"]
    assert results["data"]["speakers"]["test"] == 4
    assert 0.4 < uar < 0.95  # chance is 0.25
    assert (run_dir / "confusion_matrix.png").exists()
