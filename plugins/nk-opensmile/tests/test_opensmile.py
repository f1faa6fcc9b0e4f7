"""nk-opensmile: contract suites, feature counts, LLD pooling, config errors, eGeMAPS + SVM."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from rich.console import Console

from nk.errors import UserError
from nk.testing import FeaturizerContract
from nk_opensmile import FeatureLevel, FeatureSet, Stat

LLD = {"feature_level": FeatureLevel.LowLevelDescriptors}


def _tone(seconds: float = 1.0, amplitude: float = 0.2, f0: float = 140.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(0)
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (amplitude * tone + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


def _build(pm, name, **params):
    comp = pm.registry.get("feats", name)
    return comp.build({**comp.defaults(), **params})


class TestEgemaps(FeaturizerContract):
    name = "egemaps"


class TestGemaps(FeaturizerContract):
    name = "gemaps"


class TestCompare(FeaturizerContract):
    name = "compare"


class TestEmobase(FeaturizerContract):
    name = "emobase"


class TestOpensmile(FeaturizerContract):
    name = "opensmile"


class TestOpensmileLld(FeaturizerContract):
    name = "opensmile"
    params = {"feature_level": FeatureLevel.LowLevelDescriptors,
              "stats": [Stat.mean, Stat.std, Stat.q05, Stat.q95, Stat.skew, Stat.kurtosis]}


class TestCompareLldDeltas(FeaturizerContract):
    name = "compare"
    params = {"feature_level": FeatureLevel.LowLevelDescriptors_Deltas}


@pytest.mark.parametrize(("name", "count"), [("egemaps", 88), ("gemaps", 62), ("compare", 6373),
                                             ("emobase", 988), ("opensmile", 88)])
def test_feature_counts(nk_pm, name, count):
    assert len(_build(nk_pm, name).feature_names()) == count


# (functionals, LLDs) per feature set, as openSMILE documents them
COUNTS = {
    FeatureSet.eGeMAPSv02: (88, 25), FeatureSet.eGeMAPSv01b: (88, 23), FeatureSet.eGeMAPSv01a: (88, 23),
    FeatureSet.GeMAPSv01b: (62, 18), FeatureSet.GeMAPSv01a: (62, 18),
    FeatureSet.ComParE_2016: (6373, 65), FeatureSet.emobase: (988, 26),
    FeatureSet.IS09: (384, 16), FeatureSet.IS10: (1582, 38), FeatureSet.IS11: (4368, 59),
    FeatureSet.IS12: (6125, 64), FeatureSet.IS13: (6373, 65),
}


@pytest.mark.parametrize("feature_set", list(FeatureSet), ids=lambda s: s.name)
def test_every_feature_set_and_level(nk_pm, feature_set):
    functionals, llds = COUNTS[feature_set]
    signal = _tone(0.5)
    levels = [(FeatureLevel.Functionals, functionals), (FeatureLevel.LowLevelDescriptors, 2 * llds)]
    if feature_set not in (FeatureSet.eGeMAPSv02, FeatureSet.eGeMAPSv01b, FeatureSet.eGeMAPSv01a,
                           FeatureSet.GeMAPSv01b, FeatureSet.GeMAPSv01a):
        levels.append((FeatureLevel.LowLevelDescriptors_Deltas, 2 * llds))
    for level, count in levels:
        smile = _build(nk_pm, "opensmile", feature_set=feature_set, feature_level=level)
        names = smile.feature_names()
        values = smile.extract(signal, 16000)
        assert len(names) == len(set(names)) == len(values) == count, (feature_set, level)
        assert np.isfinite(values).all()


def test_lld_names_are_lld_then_stat(nk_pm):
    smile = _build(nk_pm, "egemaps", **LLD, stats=[Stat.median, Stat.iqr, Stat.max])
    names = list(smile.feature_names())
    assert names[:3] == ["Loudness_sma3_median", "Loudness_sma3_iqr", "Loudness_sma3_max"]
    assert len(names) == 25 * 3 and all(n.rsplit("_", 1)[1] in ("median", "iqr", "max") for n in names)


def test_lld_stats_pool_the_frames(nk_pm):
    """The pooled values equal NumPy's statistics of the frames openSMILE returns."""
    import opensmile

    signal = _tone(1.0)
    stats = list(Stat)
    pooled = _build(nk_pm, "egemaps", **LLD, stats=stats).extract(signal, 16000).reshape(25, len(stats))
    frames = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                             feature_level=opensmile.FeatureLevel.LowLevelDescriptors)(signal, 16000)[0].T
    frames = frames.astype(np.float64)
    loud = frames[:, 0]
    centred = loud - loud.mean()
    expected = {
        "mean": loud.mean(), "std": loud.std(), "min": loud.min(), "max": loud.max(),
        "median": np.median(loud), "q05": np.quantile(loud, 0.05), "q95": np.quantile(loud, 0.95),
        "iqr": np.quantile(loud, 0.75) - np.quantile(loud, 0.25),
        "skew": (centred**3).mean() / loud.var() ** 1.5,
        "kurtosis": (centred**4).mean() / loud.var() ** 2 - 3,
    }
    for i, stat in enumerate(stats):
        assert pooled[0, i] == pytest.approx(expected[stat.name], rel=1e-4, abs=1e-6), stat
    assert pooled[0, stats.index(Stat.q05)] < pooled[0, stats.index(Stat.median)] < pooled[0, stats.index(Stat.q95)]


def test_constant_descriptor_has_zero_skew_and_kurtosis():
    from nk_opensmile.pooling import pool

    frames = np.column_stack([np.full(50, 3.7, np.float32), np.arange(50, dtype=np.float32)])
    skew, kurt = pool(frames, ["skew", "kurtosis"]).reshape(2, 2)[0]
    assert (skew, kurt) == (0.0, 0.0)
    single = pool(frames[:1], ["mean", "std", "iqr", "skew", "kurtosis"])
    assert np.isfinite(single).all()


def test_invalid_stat_is_refused_when_composing(nk_compose):
    with pytest.raises(UserError) as err:
        nk_compose(["feats=opensmile", "feats.opensmile.feature_level=LowLevelDescriptors",
                    "feats.opensmile.stats=[mean,mode]"])
    text = str(err.value)
    assert "'mode'" in text and "feats.opensmile.stats" in text
    assert all(s.name in text for s in Stat)


def test_valid_stats_compose_and_reach_the_featurizer(nk_compose, nk_pm):
    from nk.config import selected

    cfg = nk_compose(["feats=[egemaps,opensmile]", "feats.opensmile.feature_level=LowLevelDescriptors",
                      "feats.opensmile.stats=[q05,q95]"])
    params = dict(selected(cfg, "feats"))["opensmile"]
    names = nk_pm.registry.get("feats", "opensmile").build(params).feature_names()
    assert names[:2] == ["Loudness_sma3_q05", "Loudness_sma3_q95"]


@pytest.mark.parametrize(("stats", "message"), [([], "No statistic"),
                                                ([Stat.mean, Stat.mean], "more than once")])
def test_empty_or_repeated_stats_are_user_errors(nk_pm, stats, message):
    with pytest.raises(UserError, match=message) as err:  # when built: once per run
        _build(nk_pm, "gemaps", **LLD, stats=stats)
    assert err.value.where == "config key feats.gemaps.stats" and err.value.allowed and err.value.todo


def test_deltas_of_gemaps_are_a_user_error(nk_pm):
    with pytest.raises(UserError, match="no LowLevelDescriptors_Deltas") as err:  # when built
        _build(nk_pm, "egemaps", feature_level=FeatureLevel.LowLevelDescriptors_Deltas)
    assert err.value.where == "config key feats.egemaps.feature_level"
    assert "ComParE_2016" in err.value.allowed


def test_louder_signal_has_higher_loudness(nk_pm):
    smile = _build(nk_pm, "egemaps")
    i = list(smile.feature_names()).index("loudness_sma3_amean")
    tone = _tone(1.0, amplitude=1.0)
    assert smile.extract(0.5 * tone, 16000)[i] > smile.extract(0.05 * tone, 16000)[i]


def test_full_scale_samples_do_not_wrap_around(nk_pm):
    """openSMILE casts x·32768 to int16: without clipping, +1.0 becomes -1.0."""
    smile = _build(nk_pm, "egemaps")
    i = list(smile.feature_names()).index("loudness_sma3_amean")
    t = np.arange(16000) / 16000
    square = np.sign(np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    full, almost = smile.extract(square, 16000)[i], smile.extract(0.999 * square, 16000)[i]
    assert full == pytest.approx(almost, rel=0.01)


def test_too_short_segment_fails_with_a_reason(nk_pm):
    for params in ({}, LLD):
        with pytest.raises(ValueError, match="too short"):
            _build(nk_pm, "egemaps", **params).extract(_tone(0.03), 16000)


def test_lld_featurizer_pickles_after_use(nk_pm):
    smile = _build(nk_pm, "compare", **LLD)
    signal = _tone(0.5)
    before = smile.extract(signal, 16000)
    assert smile.__dict__["_instances_"]  # the reusable openSMILE instance exists ...
    clone = pickle.loads(pickle.dumps(smile))
    assert "_smile_" not in clone.__dict__ and "_instances_" not in clone.__dict__  # ... unpickled
    np.testing.assert_array_equal(clone.extract(signal, 16000), before)


# --- the reused openSMILE instance gives what a fresh opensmile.Smile gives -------------------

def _signals() -> list[np.ndarray]:
    """Signals of different lengths and content, one with full-scale samples (clipped)."""
    rng = np.random.default_rng(7)
    loud = np.clip(1.5 * _tone(0.7, amplitude=1.0, f0=90.0), -1.2, 1.2)
    return [_tone(1.0), _tone(0.25, f0=220.0), (0.3 * rng.standard_normal(9601)).astype(np.float32),
            _tone(2.0, amplitude=0.05, f0=110.0), loud, _tone(0.4, amplitude=0.5, f0=300.0),
            _tone(1.3, f0=180.0)]


def _reference(feature_set: FeatureSet, level: FeatureLevel, signal: np.ndarray,
               sampling_rate: int = 16000) -> np.ndarray:
    """(features, frames) from a fresh ``opensmile.Smile`` call, as nk clips the samples."""
    import opensmile

    smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set.name),
                            feature_level=getattr(opensmile.FeatureLevel, level.name))
    return smile(np.clip(signal, -1.0, 32767 / 32768), sampling_rate)[0]


@pytest.fixture
def count_openSMILE(monkeypatch):
    """How many openSMILE instances the test initialises, and how many of those it frees.

    Both opensmile.Smile's and nk's count; instances of earlier tests that the garbage
    collector frees meanwhile do not.
    """
    from opensmile.core.lib import OpenSMILE

    counts = {"initialize": 0, "free": 0}
    created: list[object] = []
    initialize, free = OpenSMILE.initialize, OpenSMILE.free

    def counted_initialize(inst, *args, **kwargs):
        counts["initialize"] += 1
        created.append(inst)
        return initialize(inst, *args, **kwargs)

    def counted_free(inst):
        if inst._smileobj is not None and any(inst is c for c in created):
            counts["free"] += 1
        return free(inst)

    monkeypatch.setattr(OpenSMILE, "initialize", counted_initialize)
    monkeypatch.setattr(OpenSMILE, "free", counted_free)
    return counts


def test_reused_instance_gives_smiles_functionals_bit_for_bit(nk_pm, count_openSMILE):
    smile = _build(nk_pm, "egemaps")
    signals = _signals()
    got = [smile.extract(x, 16000) for x in signals]
    # one instance for the feature names (freed by opensmile.Smile), one reused for every signal
    assert count_openSMILE == {"initialize": 2, "free": 1}
    for i, (x, values) in enumerate(zip(signals, got, strict=True)):
        expected = _reference(FeatureSet.eGeMAPSv02, FeatureLevel.Functionals, x)[:, 0]
        assert values.dtype == np.float32 and values.shape == (88,)
        assert np.array_equal(values, expected, equal_nan=True), i
    assert not np.array_equal(got[0], got[1])  # the signals differ, and so do their features


def test_reused_instance_gives_smiles_pooled_llds_bit_for_bit(nk_pm):
    from nk_opensmile.pooling import pool

    stats = [Stat.mean, Stat.std, Stat.q05, Stat.median, Stat.kurtosis]
    smile = _build(nk_pm, "egemaps", **LLD, stats=stats)
    for i, x in enumerate(_signals()):
        frames = _reference(FeatureSet.eGeMAPSv02, FeatureLevel.LowLevelDescriptors, x).T
        assert frames.shape[0] > 1
        expected = pool(frames, [s.name for s in stats])
        assert np.array_equal(smile.extract(x, 16000), expected, equal_nan=True), i


def test_too_short_signal_between_others_fails_alone(nk_pm):
    for params in ({}, LLD):
        smile = _build(nk_pm, "egemaps", **params)
        signals = _signals()
        first = [smile.extract(x, 16000) for x in signals[:3]]
        with pytest.raises(ValueError, match=r"gave no values for a 30 ms signal.*too short"):
            smile.extract(_tone(0.03), 16000)
        after = [smile.extract(x, 16000) for x in signals[3:]]
        for i, (x, values) in enumerate(zip(signals, first + after, strict=True)):
            alone = _build(nk_pm, "egemaps", **params).extract(x, 16000)  # a fresh instance
            assert np.array_equal(values, alone, equal_nan=True), (params, i)


def test_failed_reset_discards_the_instance(nk_pm, monkeypatch, count_openSMILE):
    from opensmile.core.lib import smileapi

    signals = _signals()
    expected = _reference(FeatureSet.eGeMAPSv02, FeatureLevel.Functionals, signals[1])[:, 0]
    smile = _build(nk_pm, "egemaps")
    before = smile.extract(signals[0], 16000)
    initialised, freed = count_openSMILE["initialize"], count_openSMILE["free"]
    reset = smileapi.smile_reset
    monkeypatch.setattr(smileapi, "smile_reset", lambda obj: -1)
    with pytest.raises(RuntimeError, match="could not be reset"):
        smile.extract(signals[1], 16000)
    assert count_openSMILE["free"] == freed + 1 and not smile.__dict__["_instances_"]
    monkeypatch.setattr(smileapi, "smile_reset", reset)
    assert np.array_equal(smile.extract(signals[0], 16000), before)
    assert count_openSMILE["initialize"] == initialised + 1  # a fresh instance ...
    assert np.array_equal(smile.extract(signals[1], 16000), expected, equal_nan=True)
    assert count_openSMILE["initialize"] == initialised + 1  # ... reused again


def test_one_instance_per_sampling_rate(nk_pm):
    smile = _build(nk_pm, "egemaps")
    signals = _signals()
    for rate, x in zip([16000, 8000, 16000, 44100, 8000, 16000], signals, strict=False):
        expected = _reference(FeatureSet.eGeMAPSv02, FeatureLevel.Functionals, x, rate)[:, 0]
        assert np.array_equal(smile.extract(x, rate), expected, equal_nan=True), rate
    assert sorted(smile.__dict__["_instances_"]) == [8000, 16000, 44100]


def test_instances_are_freed_with_the_featurizer(nk_pm, count_openSMILE):
    import gc

    smile = _build(nk_pm, "egemaps")
    for rate in (16000, 8000):
        smile.extract(_tone(0.5), rate)
    freed = count_openSMILE["free"]
    del smile
    gc.collect()
    assert count_openSMILE["free"] == freed + 2


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


def test_pooled_llds_in_an_experiment(nk_compose, nk_pm, tmp_path):
    from nk.pipeline import run_experiment

    cfg = nk_compose(["feats=opensmile", "feats.opensmile.feature_level=LowLevelDescriptors",
                      "feats.opensmile.stats=[mean,std,q95]", "data.demo.n_utterances=2", "n_jobs=1"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert results["n_features"] == 25 * 3
    assert results["components"]["feats"] == ["opensmile"]
