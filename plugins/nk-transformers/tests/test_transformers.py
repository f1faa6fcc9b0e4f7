"""nk-transformers: the featurizer contract, batching, views, chunking, Whisper frames, errors."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nk.errors import UserError
from nk.testing import FeaturizerContract

BATCH_RTOL = 1e-4
"""Batched vs per-file: float32 sums over differently shaped batches differ in the last bits."""
BATCH_ATOL = 1e-4

KIND_OF = {"wav2vec2": "wav2vec2_group", "hubert": "hubert", "wavlm": "wavlm", "data2vec": "data2vec",
           "whisper": "whisper", "hf": "wav2vec2_layer"}


def build(name: str, model: Path | str, **params: Any) -> Any:
    from nk_transformers import COMPONENTS

    cls, config, _ = COMPONENTS[name]
    defaults = config()
    kwargs = {f: getattr(defaults, f) for f in defaults.__dataclass_fields__}
    kwargs.update({"model": str(model), "device": "cpu", **params})
    return cls(**kwargs)


def signals(durations: tuple[float, ...] = (1.0, 0.45, 2.3, 1.7, 0.9, 1.7), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for d in durations:
        t = np.arange(int(16000 * d)) / 16000
        tone = 0.2 * np.sin(2 * np.pi * (120 + 40 * rng.random()) * t)
        out.append((tone + 0.02 * rng.standard_normal(len(t))).astype(np.float32))
    return out


# --- the contract suite, once per featurizer --------------------------------------------------


class _TinyContract(FeaturizerContract):
    @pytest.fixture(autouse=True)
    def _tiny_model(self, tiny_models: dict[str, Path]) -> None:
        self.params = {"model": str(tiny_models[KIND_OF[self.name]]), "device": "cpu"}


class TestWav2Vec2Contract(_TinyContract):
    name = "wav2vec2"


class TestHubertContract(_TinyContract):
    name = "hubert"


class TestWavLMContract(_TinyContract):
    name = "wavlm"


class TestData2VecContract(_TinyContract):
    name = "data2vec"


class TestWhisperContract(_TinyContract):
    name = "whisper"


class TestHfContract(_TinyContract):
    name = "hf"


def test_every_featurizer_is_registered_with_secret_and_unkeyed_params(nk_pm: Any) -> None:
    for name in KIND_OF:
        comp = nk_pm.registry.get("feats", name)
        assert comp.secret_params() == {"hf_token"}
        key = comp.key_params(comp.defaults())
        assert "device" not in key and "batch_seconds" not in key and "hf_token" not in key
        assert {"model", "revision", "max_duration", "dtype"} <= set(key)


# --- batching ------------------------------------------------------------------------------


@pytest.mark.parametrize("name,kind", [
    ("wav2vec2", "wav2vec2_group"), ("wav2vec2", "wav2vec2_layer"), ("hubert", "hubert"),
    ("wavlm", "wavlm"), ("data2vec", "data2vec"), ("whisper", "whisper"),
])
def test_batched_equals_per_file(tiny_models: dict[str, Path], name: str, kind: str) -> None:
    featurizer = build(name, tiny_models[kind])
    sigs = signals()
    single = np.stack([featurizer.extract(s, 16000) for s in sigs])
    batched = np.stack(featurizer.extract_batch(sigs, 16000))
    assert batched.dtype == np.float32 and batched.shape == (len(sigs), len(featurizer.feature_names()))
    np.testing.assert_allclose(batched, single, rtol=BATCH_RTOL, atol=BATCH_ATOL)
    encoder = featurizer._encoder()
    if kind != "whisper":  # Whisper's batches are counted in 30 s inputs
        before = encoder.forward_passes
        featurizer.extract_batch(sigs, 16000)
        assert encoder.forward_passes - before == 1, "six short signals fit one batch"


def test_batches_hold_at_most_batch_seconds_of_padded_audio(tiny_models: dict[str, Path]) -> None:
    featurizer = build("wav2vec2", tiny_models["wav2vec2_group"], batch_seconds=3.0)
    encoder = featurizer._encoder()
    pieces = [(i, s) for i, s in enumerate(signals())]
    batches = encoder._batches(pieces, 16000)
    for batch in batches:
        assert len(batch) * max(len(p) for _, p in batch) <= 3.0 * 16000 or len(batch) == 1
        lengths = [len(p) for _, p in batch]
        assert lengths == sorted(lengths)
    assert sorted(i for b in batches for i, _ in b) == list(range(len(pieces)))


def _reference_stats(model_dir: Path, signal: np.ndarray, normalize: bool) -> np.ndarray:
    """What a user gets from transformers directly: every hidden state, pooled over time."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir).eval()
    x = signal.astype(np.float64)
    if normalize:
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    with torch.inference_mode():
        states = model(torch.from_numpy(x.astype(np.float32))[None], output_hidden_states=True).hidden_states
    return np.concatenate([np.concatenate([h[0].mean(0).numpy(), h[0].std(0, unbiased=False).numpy(),
                                           h[0].amax(0).numpy()]) for h in states])


@pytest.mark.parametrize("kind,normalize", [("wav2vec2_group", False), ("wav2vec2_layer", True)])
def test_per_file_values_are_the_plain_transformers_ones(tiny_models: dict[str, Path], kind: str,
                                                         normalize: bool) -> None:
    sig = signals((1.3,))[0]
    featurizer = build("wav2vec2", tiny_models[kind])
    np.testing.assert_allclose(featurizer.extract(sig, 16000), _reference_stats(tiny_models[kind], sig, normalize),
                               rtol=1e-5, atol=1e-5)


def test_whisper_pools_only_the_frames_that_carry_audio(tiny_models: dict[str, Path]) -> None:
    import torch
    from transformers import WhisperFeatureExtractor, WhisperModel

    sig = signals((2.0,))[0]
    featurizer = build("whisper", tiny_models["whisper"])
    values = featurizer.extract(sig, 16000)
    encoder = WhisperModel.from_pretrained(tiny_models["whisper"]).get_encoder().eval()
    feats = WhisperFeatureExtractor.from_pretrained(tiny_models["whisper"])(sig, sampling_rate=16000,
                                                                             return_tensors="pt")
    with torch.inference_mode():
        last = encoder(feats.input_features, output_hidden_states=True).hidden_states[-1][0]
    audio_frames = 100  # 2 s at Whisper's 50 encoder frames per second
    hidden = 32
    names = list(featurizer.feature_names())
    mean_last = values[names.index("l02.mean.0"):][:hidden]
    np.testing.assert_allclose(mean_last, last[:audio_frames].mean(0).numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(mean_last, last.mean(0).numpy(), atol=1e-3), "the 30 s of padding must not count"


def test_long_signals_are_chunked_and_merged_exactly(tiny_models: dict[str, Path]) -> None:
    sig = signals((2.7,))[0]
    chunked = build("wav2vec2", tiny_models["wav2vec2_group"], max_duration=1.0)
    encoder = chunked._encoder()
    bounds = encoder.chunks(len(sig), 16000)
    assert len(bounds) == 3 and max(b - a for a, b in bounds) <= 16000
    whole = build("wav2vec2", tiny_models["wav2vec2_group"], max_duration=10.0)
    parts = [whole.extract(sig[a:b], 16000).reshape(3, 3, 32) for a, b in bounds]
    frames = np.array([int(encoder.model._get_feat_extract_output_lengths(b - a)) for a, b in bounds])
    got = chunked.extract(sig, 16000).reshape(3, 3, 32)
    mean = sum(f * p[:, 0] for f, p in zip(frames, parts, strict=True)) / frames.sum()
    second = sum(f * (p[:, 1] ** 2 + p[:, 0] ** 2) for f, p in zip(frames, parts, strict=True)) / frames.sum()
    np.testing.assert_allclose(got[:, 0], mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[:, 1], np.sqrt(second - mean**2), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(got[:, 2], np.max([p[:, 2] for p in parts], axis=0), rtol=1e-5, atol=1e-6)


def test_too_short_and_non_finite_signals_fail_per_file(tiny_models: dict[str, Path]) -> None:
    featurizer = build("wav2vec2", tiny_models["wav2vec2_group"])
    with pytest.raises(ValueError, match="shorter than"):
        featurizer.extract(np.zeros(40, np.float32), 16000)
    bad = signals((0.5,))[0]
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        featurizer.extract(bad, 16000)


def test_the_model_is_loaded_once_and_not_pickled(tiny_models: dict[str, Path]) -> None:
    featurizer = build("hubert", tiny_models["hubert"], hf_token="hf_secret_value")
    featurizer.extract(signals((0.5,))[0], 16000)
    encoder = featurizer._encoder()
    featurizer.extract(signals((0.5,))[0], 16000)
    assert featurizer._encoder() is encoder
    clone = pickle.loads(pickle.dumps(featurizer))
    assert "_encoder_" not in clone.__dict__
    assert "hf_secret_value" not in repr(featurizer)


# --- views -------------------------------------------------------------------------------------


def _stored(tiny_models: dict[str, Path], **params: Any) -> tuple[Any, np.ndarray, list[str]]:
    featurizer = build("wav2vec2", tiny_models["wav2vec2_layer"], **params)
    names = list(featurizer.feature_names())
    return featurizer, np.stack(featurizer.extract_batch(signals()[:3], 16000)), names


def test_feature_names_name_every_layer_and_statistic(tiny_models: dict[str, Path]) -> None:
    _, stored, names = _stored(tiny_models)
    assert len(names) == 3 * 3 * 32 == stored.shape[1]
    assert names[0] == "l00.mean.0" and names[32] == "l00.std.0" and names[-1] == "l02.max.31"


@pytest.mark.parametrize("params,first,count", [
    ({}, "l02.mean.0", 32),
    ({"layer": 1}, "l01.mean.0", 32),
    ({"layer": -3}, "l00.mean.0", 32),
    ({"layer": 1, "pooling": "mean_std"}, "l01.mean.0", 64),
    ({"layer": 0, "pooling": "max"}, "l00.max.0", 32),
    ({"layers": [1, 2], "layer_combine": "concat"}, "l01.mean.0", 64),
    ({"layers": [1, 2]}, "l01+02.mean.0", 32),
])
def test_views_select_from_the_stored_vector(tiny_models: dict[str, Path], params: dict[str, Any],
                                             first: str, count: int) -> None:
    featurizer, stored, names = _stored(tiny_models)
    for key, value in params.items():
        setattr(featurizer, key, value)
    values, view_names = featurizer.view(stored, names)
    assert view_names[0] == first and len(view_names) == count == values.shape[1]
    assert values.shape[0] == stored.shape[0] and values.dtype == np.float32
    if "layers" not in params or params.get("layer_combine") == "concat":
        for j, n in enumerate(view_names):
            np.testing.assert_array_equal(values[:, j], stored[:, names.index(n)])
    else:
        expected = (stored[:, names.index("l01.mean.0")] + stored[:, names.index("l02.mean.0")]) / 2
        np.testing.assert_allclose(values[:, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("params,match", [
    ({"layer": 3}, "out of range"),
    ({"layer": -4}, "out of range"),
    ({"layers": [0, 5]}, "out of range"),
    ({"layers": [1, 1]}, "more than once"),
    ({"layer": 1, "layers": [1, 2]}, "Both"),
    ({"pooling": "median"}, "Unknown pooling"),
])
def test_bad_views_are_user_errors(tiny_models: dict[str, Path], params: dict[str, Any], match: str) -> None:
    featurizer, stored, names = _stored(tiny_models)
    for key, value in params.items():
        setattr(featurizer, key, value)
    with pytest.raises(UserError, match=match) as err:
        featurizer.view(stored, names)
    assert err.value.allowed


def test_layer_range_is_checked_before_extracting(tiny_models: dict[str, Path]) -> None:
    featurizer = build("wavlm", tiny_models["wavlm"], layer=12)
    with pytest.raises(UserError, match="out of range") as err:
        featurizer.feature_names()
    assert "0 (the transformer's input) to 2" in err.value.allowed
    assert err.value.where == "config key feats.wavlm.layer"


# --- errors --------------------------------------------------------------------------------------


def test_a_text_model_is_not_an_audio_encoder(tiny_models: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="not an audio encoder") as err:
        build("hf", tiny_models["bert"]).feature_names()
    assert "wav2vec2" in err.value.allowed and "whisper" in err.value.allowed


def test_a_model_of_another_family_says_which_featurizer_runs_it(tiny_models: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="'hubert' model") as err:
        build("wav2vec2", tiny_models["hubert"]).feature_names()
    assert "feats=hf" in err.value.todo
    assert build("hf", tiny_models["hubert"]).feature_names()  # hf takes any audio encoder


@pytest.mark.parametrize("params,match", [
    ({"dtype": "float64"}, "Unknown dtype"),
    ({"dtype": "float16"}, "needs a GPU"),
    ({"device": "tpu"}, "Unknown device"),
])
def test_bad_dtype_and_device_are_user_errors(tiny_models: dict[str, Path], params: dict[str, Any],
                                              match: str) -> None:
    with pytest.raises(UserError, match=match) as err:
        build("wav2vec2", tiny_models["wav2vec2_group"], **params).feature_names()
    assert err.value.allowed


def test_bfloat16_runs_close_to_float32(tiny_models: dict[str, Path]) -> None:
    sig = signals((1.0,))[0]
    full = build("wav2vec2", tiny_models["wav2vec2_layer"]).extract(sig, 16000)
    half = build("wav2vec2", tiny_models["wav2vec2_layer"], dtype="bfloat16").extract(sig, 16000)
    assert np.isfinite(half).all() and np.corrcoef(full, half)[0, 1] > 0.99


def test_local_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        build("wav2vec2", tmp_path / "nowhere").feature_names()
    with pytest.raises(UserError, match=r"no config\.json"):
        build("wav2vec2", tmp_path).feature_names()


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_offline_missing_model_is_one_clear_error(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    started = time.perf_counter()
    with pytest.raises(UserError) as err:
        build("wav2vec2", "facebook/wav2vec2-large-robust").feature_names()
    assert time.perf_counter() - started < 5
    message = err.value.message
    assert "'facebook/wav2vec2-large-robust'" in message and "HF_HUB_OFFLINE" in message
    assert str(empty_hf_cache) in message
    assert "nk models fetch facebook/wav2vec2-large-robust" in message and "local" in message


def test_unreachable_hub_is_one_clear_error(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from nk_transformers import hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    with pytest.raises(UserError, match="cannot be reached"):
        build("whisper", "openai/whisper-small").feature_names()


def test_cached_model_loads_without_network(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nk_transformers import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.setattr(hub, "in_cache", lambda model, revision: True)
    source = hub.resolve("facebook/wav2vec2-base", "main", "tok", "feats.wav2vec2")
    assert source.local_files_only and source.kwargs()["local_files_only"] is True


def _nk(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("nk")), *args],
                          capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=120)


def test_nk_run_without_the_model_fails_fast_with_exit_2(tmp_path: Path) -> None:
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "NK_CACHE_DIR": str(tmp_path / "cache")}
    started = time.perf_counter()
    out = _nk(["run", "feats=wav2vec2", "model=svm", f"results_root={tmp_path / 'results'}"], env, tmp_path)
    elapsed = time.perf_counter() - started
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    text = " ".join((out.stderr + out.stdout).split())
    assert "facebook/wav2vec2-large-robust" in text and "nk models fetch" in text
    assert elapsed < 30  # in practice ~2 s: the check runs before the data is loaded


def test_nk_models_fetch_a_local_folder_and_list(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    out = _nk(["models", "fetch", str(tiny_models["wavlm"])], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "wavlm" in out.stdout and "2 layers" in out.stdout
    out = _nk(["models", "list"], env, tmp_path)
    assert out.returncode == 0 and "wav2vec2-large-robust" in out.stdout
    out = _nk(["models", "fetch", "nobody/no-such-model"], env, tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_a_model_for_another_sampling_rate_is_refused(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from transformers import Wav2Vec2FeatureExtractor

    folder = tmp_path / "at24k"
    shutil.copytree(tiny_models["hubert"], folder)
    Wav2Vec2FeatureExtractor(sampling_rate=24000).save_pretrained(folder)
    with pytest.raises(UserError, match="24000 Hz"):
        build("hf", folder).feature_names()
