"""nk-praat: contract suite, known values on synthetic signals, NaN rules, an experiment."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from nk.errors import UserError
from nk.testing import FeaturizerContract

SR = 16000


class TestPraat(FeaturizerContract):
    name = "praat"


@pytest.fixture
def praat(nk_pm):
    comp = nk_pm.registry.get("feats", "praat")
    return comp.build(comp.defaults())


def features(praat, signal: np.ndarray) -> dict[str, float]:
    values = praat.extract(signal, SR)
    assert values.dtype == np.float32 and values.shape == (len(praat.feature_names()),)
    return dict(zip(praat.feature_names(), values.tolist(), strict=True))


def tone(f0: float = 200.0, dur: float = 1.0, amp: float = 0.3, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """Harmonic tone (8 harmonics, 1/k amplitudes) whose periods vary randomly by ``jitter`` (sd)."""
    rng = np.random.default_rng(seed)
    n = int(dur * SR)
    periods = SR / f0 * (1.0 + jitter * rng.standard_normal(int(dur * f0 * 1.5) + 10))
    edges = np.concatenate(([0.0], np.cumsum(periods)))
    phase = np.interp(np.arange(n), edges, np.arange(edges.size))  # one cycle per period
    x = sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, 9))
    return (amp / np.abs(x).max() * x + 1e-4 * rng.standard_normal(n)).astype(np.float32)


def vowel(formants: tuple[float, ...], f0: float = 120.0, dur: float = 1.0) -> np.ndarray:
    """A pulse train through a cascade of five resonators (unity gain at DC)."""
    from scipy.signal import lfilter

    n = int(dur * SR)
    x = np.zeros(n)
    x[np.arange(0, n, SR / f0).astype(int)] = 1.0
    for fc, bw in zip(formants, (80, 90, 120, 150, 200), strict=True):
        r = np.exp(-np.pi * bw / SR)
        c = -2 * r * np.cos(2 * np.pi * fc / SR)
        x = lfilter([1 + c + r * r], [1, c, r * r], x)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def test_entry_module_does_not_import_parselmouth():
    import subprocess
    import sys

    code = "import sys, nk_praat; print('parselmouth' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_declares_nan_and_process_safety(praat):
    assert type(praat).may_return_nan is True
    assert type(praat).process_safe is True
    assert praat.sampling_rate == 16000
    assert len(praat.feature_names()) == 43


def test_harmonic_tone_f0_and_small_perturbation(praat):
    v = features(praat, tone(200.0))
    assert v["f0_mean_hz"] == pytest.approx(200.0, rel=0.02)
    assert v["f0_median_hz"] == pytest.approx(200.0, rel=0.02)
    assert v["f0_mean_st"] == pytest.approx(12 * np.log2(200.0 / 27.5), abs=0.35)
    assert v["f0_range_st"] < 0.5
    assert v["voiced_fraction"] > 0.9
    assert 0 <= v["jitter_local"] < 0.005
    assert 0 <= v["shimmer_local"] < 0.02
    assert v["hnr_mean_db"] > 20
    assert v["cpps_db"] > 10
    assert np.isfinite(list(v.values())).all()


def test_period_jitter_raises_jitter(praat):
    clean = features(praat, tone(200.0))
    jittery = features(praat, tone(200.0, jitter=0.05, seed=3))
    assert jittery["f0_mean_hz"] == pytest.approx(200.0, rel=0.03)
    assert jittery["jitter_local"] > 0.02
    assert jittery["jitter_local"] > 5 * clean["jitter_local"]
    assert jittery["jitter_rap"] > 5 * clean["jitter_rap"]
    assert jittery["hnr_mean_db"] < clean["hnr_mean_db"]


def test_louder_tone_has_higher_intensity(praat):
    loud = features(praat, tone(amp=0.3))
    quiet = features(praat, tone(amp=0.03))
    assert loud["intensity_mean_db"] - quiet["intensity_mean_db"] == pytest.approx(20.0, abs=1.0)
    assert loud["intensity_max_db"] > quiet["intensity_max_db"]
    assert loud["f0_mean_hz"] == pytest.approx(quiet["f0_mean_hz"], rel=0.01)


def test_formants_of_synthetic_vowels(praat):
    a = features(praat, vowel((700, 1220, 2600, 3500, 4500)))
    assert a["f1_mean_hz"] == pytest.approx(700, rel=0.12)
    assert a["f2_mean_hz"] == pytest.approx(1220, rel=0.05)
    assert a["f3_mean_hz"] == pytest.approx(2600, rel=0.05)
    assert a["f4_mean_hz"] == pytest.approx(3500, rel=0.05)
    assert a["formant_dispersion_hz"] == pytest.approx((a["f4_mean_hz"] - a["f1_mean_hz"]) / 3, rel=1e-5)
    i = features(praat, vowel((300, 2300, 3000, 3700, 4700)))
    assert i["f1_mean_hz"] < a["f1_mean_hz"] and i["f2_mean_hz"] > a["f2_mean_hz"] + 800


@pytest.mark.parametrize("signal", [np.zeros(SR, np.float32), tone(dur=0.05)], ids=["silence", "50ms"])
def test_silence_and_too_short_input_are_nan_never_zero(praat, signal):
    v = features(praat, signal)
    undefined = [k for k in v if k.startswith(("f0_", "jitter_", "shimmer_"))]
    assert all(np.isnan(v[k]) for k in undefined)
    assert not any(value == 0 for value in v.values())  # every feature is NaN here, none a 0
    assert np.isnan(list(v.values())).all()


def test_unvoiced_noise_has_nan_voice_features_and_measured_rest(praat):
    noise = (0.01 * np.random.default_rng(1).standard_normal(SR)).astype(np.float32)
    v = features(praat, noise)
    for k in v:
        if k.startswith(("f0_", "jitter_", "shimmer_", "hnr_", "f1_", "f2_", "f3_", "f4_", "formant_")):
            assert np.isnan(v[k]), k
    # Measured, not placeholder, zeros: no voiced frame, no syllable nucleus, no pause.
    assert v["voiced_fraction"] == 0 and v["speech_rate"] == 0 and v["pause_count"] == 0
    assert np.isfinite([v["cpps_db"], v["intensity_mean_db"], v["pause_ratio"]]).all()


def test_pauses_between_tones(praat):
    ramp = np.ones(int(0.5 * SR))
    ramp[:160], ramp[-160:] = np.linspace(0, 1, 160), np.linspace(1, 0, 160)
    segment = tone(dur=0.5) * ramp
    gap = 1e-4 * np.random.default_rng(2).standard_normal(int(0.3 * SR))
    signal = np.concatenate([segment, gap, segment, gap, segment]).astype(np.float32)
    v = features(praat, signal)
    assert v["pause_count"] == 2
    assert v["pause_ratio"] == pytest.approx(0.6 / 2.1, abs=0.05)
    assert v["pause_mean_s"] == pytest.approx(0.3, abs=0.06)
    assert v["speech_rate"] * 2.1 == pytest.approx(3)  # one nucleus per tone
    assert v["articulation_rate"] == pytest.approx(3 / (2.1 - 2 * v["pause_mean_s"]), rel=0.05)


def test_no_pause_in_continuous_speech_is_zero_not_nan(praat):
    v = features(praat, tone(dur=1.5))
    assert v["pause_count"] == 0 and v["pause_mean_s"] == 0 and v["pause_ratio"] == 0


def test_pause_shorter_than_min_pause_is_not_counted(nk_pm):
    comp = nk_pm.registry.get("feats", "praat")
    gap = np.zeros(int(0.15 * SR), np.float32)
    signal = np.concatenate([tone(dur=0.5), gap, tone(dur=0.5)])
    default = features(comp.build(comp.defaults()), signal)
    short = features(comp.build({**comp.defaults(), "min_pause": 0.1}), signal)
    assert default["pause_count"] == 0 and short["pause_count"] == 1


def test_hnr_from_praat_harmonicity_and_cc_pitch(nk_pm):
    from nk_praat import HnrMethod, PitchMethod

    comp = nk_pm.registry.get("feats", "praat")
    praat = comp.build({**comp.defaults(), "hnr_method": HnrMethod.cc, "pitch_method": PitchMethod.cc})
    clean = features(praat, tone(200.0))
    noisy = tone(200.0) + (0.05 * np.random.default_rng(5).standard_normal(SR)).astype(np.float32)
    noisy_v = features(praat, noisy)
    assert clean["f0_mean_hz"] == pytest.approx(200.0, rel=0.02)
    assert clean["hnr_mean_db"] > noisy_v["hnr_mean_db"] + 5


def test_ceiling_below_floor_is_a_user_error(nk_pm):
    comp = nk_pm.registry.get("feats", "praat")
    with pytest.raises(UserError, match="pitch_ceiling"):  # at build: once per run, not per file
        comp.build({**comp.defaults(), "pitch_floor": 300.0, "pitch_ceiling": 200.0})


def test_pickled_featurizer_extracts_the_same(praat):
    signal = tone(150.0, jitter=0.01)
    clone = pickle.loads(pickle.dumps(praat))
    np.testing.assert_array_equal(clone.extract(signal, SR), praat.extract(signal, SR))


def test_experiment_with_praat_features(nk_compose, nk_pm, tmp_path):
    from rich.console import Console

    from nk.pipeline import run_experiment

    cfg = nk_compose(["feats=praat", "data.demo.n_utterances=2", "n_jobs=1"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert results["components"]["feats"] == ["praat"]
    assert results["n_features"] == 43
