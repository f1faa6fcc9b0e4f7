"""Augmenters: contracts, determinism per seed, content-addressed reuse, `only`, chain errors,
and the train-only guarantee through nk run, cross-validation and nk augment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from rich.console import Console

from nk.cli import main
from nk.errors import UserError
from nk.testing import AugmenterContract

SMALL_DEMO = ["data.demo.n_speakers=8", "data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1"]


class TestChainContract(AugmenterContract):
    name = "audiomentations"


class TestNoiseContract(AugmenterContract):
    name = "noise"


class TestSpeedContract(AugmenterContract):
    name = "speed"


class TestPitchContract(AugmenterContract):
    name = "pitch"


class TestSpliceContract(AugmenterContract):
    name = "random_splice"


def context(nk_pm, nk_compose, folder, overrides=()):
    import logging

    from nk.context import RunContext

    folder.mkdir(parents=True, exist_ok=True)
    cfg = nk_compose([f"cache_dir={folder / 'cache'}", "feats=mfcc", *overrides])
    return RunContext(cfg=cfg, run_dir=folder, pm=nk_pm, log=logging.getLogger("nk.test"),
                      console=Console(quiet=True))


def build(nk_pm, name, **params):
    comp = nk_pm.registry.get("augment", name)
    return comp.build({**comp.defaults(), **params})


def audio_of(frame):
    return [sf.read(f)[0] for f in frame.index]


@pytest.mark.parametrize("name", ["audiomentations", "noise", "speed", "pitch", "random_splice"])
def test_same_seed_same_audio_other_seed_other_audio(nk_pm, nk_compose, nk_context, tiny_corpus, name, tmp_path):
    rows = tiny_corpus.iloc[:3]
    first = build(nk_pm, name, seed=1).augment(rows, nk_context)
    elsewhere = context(nk_pm, nk_compose, tmp_path / "elsewhere")  # another cache: computed again
    again = build(nk_pm, name, seed=1).augment(rows, elsewhere)
    assert set(first.index).isdisjoint(again.index)
    for a, b in zip(audio_of(first), audio_of(again), strict=True):
        assert np.array_equal(a, b)
    other = build(nk_pm, name, seed=2).augment(rows, nk_context)
    assert any(a.shape != b.shape or not np.allclose(a, b) for a, b in zip(audio_of(first), audio_of(other),
                                                                           strict=True))
    source = sf.read(rows.index[0])[0]
    changed = audio_of(first)[0]
    assert changed.shape != source.shape or not np.allclose(changed, source, atol=1e-4)


def test_copies_are_cached_and_reused(nk_pm, nk_context, tiny_corpus):
    rows = tiny_corpus.iloc[:2]
    out = build(nk_pm, "noise", copies=2).augment(rows, nk_context)
    assert len(out) == 4 and list(out["augmented_from"]) == [rows.index[0]] * 2 + [rows.index[1]] * 2
    assert set(out.index).isdisjoint(rows.index) and out.index.is_unique
    assert all(Path(f).is_relative_to(nk_context.cache_dir / "augment" / "noise") for f in out.index)
    stamps = {f: Path(f).stat().st_mtime_ns for f in out.index}
    again = build(nk_pm, "noise", copies=3).augment(rows, nk_context)  # copies 0 and 1 reused
    assert {f: Path(f).stat().st_mtime_ns for f in out.index} == stamps
    assert set(out.index) < set(again.index) and len(again) == 6


def test_noise_reaches_the_snr(nk_pm, nk_context, tiny_corpus):
    rows = tiny_corpus.iloc[:1]
    out = build(nk_pm, "noise", min_snr_db=10.0, max_snr_db=10.0).augment(rows, nk_context)
    clean, noisy = sf.read(rows.index[0])[0], sf.read(out.index[0])[0]
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))
    assert abs(snr - 10.0) < 0.5


def test_only_augments_one_category(nk_pm, nk_context, tiny_corpus):
    out = build(nk_pm, "noise", only={"label": ["high"]}).augment(tiny_corpus, nk_context)
    assert set(out["label"]) == {"high"} and len(out) == int((tiny_corpus["label"] == "high").sum())
    with pytest.raises(UserError, match=r"column 'emotion'.*Allowed: label, speaker"):
        build(nk_pm, "noise", only={"emotion": ["sad"]}).augment(tiny_corpus, nk_context)
    with pytest.raises(UserError, match=r"no training rows with \['sad'\]"):
        build(nk_pm, "noise", only={"label": ["sad"]}).augment(tiny_corpus, nk_context)


def test_segments_are_augmented_as_segments(nk_pm, nk_context, tiny_corpus):
    files = tiny_corpus.index[:2]
    index = pd.MultiIndex.from_arrays([files, pd.to_timedelta([0.1, 0.2], unit="s"),
                                       pd.to_timedelta([0.4, 0.5], unit="s")], names=["file", "start", "end"])
    frame = pd.DataFrame({"label": ["a", "b"]}, index=index)
    out = build(nk_pm, "speed", min_rate=1.5, max_rate=1.5).augment(frame, nk_context)
    assert list(out.index.names) == ["file", "start", "end"]
    assert np.allclose(out.index.get_level_values("end").total_seconds(), 0.2, atol=0.002)  # 0.3 s / 1.5
    assert list(out["augmented_from"]) == list(files)


@pytest.mark.parametrize(("transforms", "message"), [
    ("[{name: AddGaussianSNRR}]", r"no transform 'AddGaussianSNRR'.*Allowed: .*AddGaussianSNR, AddShortNoises"),
    ("[{name: PitchShift, semitones: 3}]", r"PitchShift has no parameter 'semitones'.*min_semitones"),
    ("[{name: AddGaussianSNR, min_snr_db: 30, max_snr_db: 5}]", r"refused by audiomentations: min_snr_db"),
    ("[{p: 1.0}]", "has no 'name'"),
])
def test_a_bad_chain_is_a_user_error_when_composed(nk_compose, transforms, message):
    with pytest.raises(UserError, match=message):
        nk_compose(["augment=audiomentations", f"augment.transforms={transforms}"])


def test_a_chain_from_the_command_line(nk_pm, nk_compose, nk_context, tiny_corpus):
    from nk.config import selected

    cfg = nk_compose(["augment=audiomentations",
                      "augment.transforms=[{name: Gain, min_gain_db: -6, max_gain_db: -6, p: 1.0}]"])
    ((name, values),) = selected(cfg, "augment")
    out = nk_pm.registry.get("augment", name).build(values).augment(tiny_corpus.iloc[:1], nk_context)
    ratio = np.abs(sf.read(out.index[0])[0]).max() / np.abs(sf.read(tiny_corpus.index[0])[0]).max()
    assert abs(ratio - 10 ** (-6 / 20)) < 0.01


@pytest.mark.parametrize(("override", "message"), [
    (["augment=noise", "augment.min_snr_db=40"], "min_snr_db=40.0 is above"),
    (["augment=speed", "augment.min_rate=0"], "min_rate"),
    (["augment=noise", "augment.copies=0"], "copies"),
])
def test_bad_ranges_are_user_errors(nk_compose, override, message):
    with pytest.raises(UserError, match=message):
        nk_compose(override)


def test_nk_run_trains_with_augmented_rows_never_tests_on_them(nk_pm, nk_compose, tmp_path):
    from nk.pipeline import run_experiment

    cfg = nk_compose([*SMALL_DEMO, "augment=noise", "augment.only={emotion: [sad]}", "augment.copies=2"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    report = results["augmentation"]
    assert report["rows_added"] > 0 and report["by_split"] == {"train": report["rows_added"]}
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert not predictions["file"].str.contains("/augment/").any()
    assert results["components"]["augment"] == ["noise"]


def test_cross_validation_augments_only_each_folds_training_rows(nk_pm, nk_compose, tiny_corpus, tmp_path):
    from nk import stages
    from nk.splits import Fold

    speakers = tiny_corpus["speaker"]
    first = speakers.isin(["spk0", "spk1", "spk2"])
    folds = [Fold("f0", pd.Series(np.where(first, "test", "train"), index=tiny_corpus.index)),
             Fold("f1", pd.Series(np.where(first, "train", "test"), index=tiny_corpus.index))]
    ctx = context(nk_pm, nk_compose, tmp_path / "cv", ["augment=noise"])
    frame, new_folds = stages.augment(ctx, tiny_corpus, folds)
    extra = frame["augmented_from"].notna().to_numpy()
    for fold, new in zip(folds, new_folds, strict=True):
        split = new.split[extra]
        assert "test" not in set(split) and "dev" not in set(split)
        sources = frame.loc[extra, "augmented_from"]
        assert (split == "train").to_numpy().tolist() == (fold.split.loc[sources].to_numpy() == "train").tolist()
    report = stages.augment_report(frame, new_folds)
    assert report["by_split"] == {"f0": {"train": 18, "unused": 18}, "f1": {"train": 18, "unused": 18}}


def test_nk_augment_writes_copies_and_their_table(nk_pm, nk_compose, tmp_path, capsys):
    nk_compose([])  # chdir into an empty folder with the cache below tmp_path
    code = main(["augment", *SMALL_DEMO, "augment=noise", "augment.only={emotion: [sad]}",
                 f"results_root={tmp_path / 'res'}"], pm=nk_pm)
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "res").glob("*/*-augment")
    table = pd.read_csv(run / "augmented.csv")
    assert set(table["emotion"]) == {"sad"} and set(table["split"]) == {"train"}
    assert all(Path(f).parent == run / "audio" and Path(f).exists() for f in table["file"])
    assert table["augmented_from"].notna().all()
    info = json.loads((run / "augment.json").read_text())
    assert info["augmented_rows"] == len(table) and info["augmentation"]["by_split"] == {"train": len(table)}
    assert main(["augment", *SMALL_DEMO], pm=nk_pm) == 2
    assert "needs an augmenter" in capsys.readouterr().err


def test_speed_factors_near_one_still_change_the_audio(nk_pm):
    """Factors drawn within 1 % of 1 used to round to exactly 1 (an unchanged copy)."""
    speed = build(nk_pm, "speed", min_rate=0.995, max_rate=1.005)
    signal = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    rng = np.random.default_rng(3)
    lengths = {len(speed.transform(signal, 16000, rng)) for _ in range(20)}
    assert 16000 not in lengths and len(lengths) > 1
