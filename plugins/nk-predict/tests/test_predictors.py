"""nk-predict: each predictor on synthesized audio, with measured quality; the hub predictors with
tiny local models and their offline error; `nk predict` and `nk explore predict=[…]` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from nk.cli import main
from nk.errors import UserError
from nk.testing import PredictorContract

SR = 16000


# --- synthetic speech ------------------------------------------------------------------------


def speech(seed: int, dur: float = 3.0, f0: tuple[float, float] = (90.0, 250.0),
           formants: tuple[tuple[float, float], ...] = ((300, 900), (900, 2200), (2200, 3200))) -> np.ndarray:
    """Voiced syllables (a pulse train through three formant resonators, Hann envelopes) with
    pauses between them, and no noise at all: the SNR of ``speech + noise`` is then known."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(dur * SR)
    x = np.zeros(n)
    t = 0
    while t < n:
        length = int(rng.uniform(0.15, 0.4) * SR)
        seg = np.zeros(length)
        seg[np.arange(0, length, SR / rng.uniform(*f0)).astype(int)] = 1.0
        for (lo, hi), bw in zip(formants, (80, 100, 150), strict=True):
            r = np.exp(-np.pi * bw / SR)
            c = -2 * r * np.cos(2 * np.pi * rng.uniform(lo, hi) / SR)
            seg = lfilter([1 + c + r * r], [1, c, r * r], seg)
        seg *= np.hanning(length) * rng.uniform(0.3, 1.0)
        end = min(n, t + length)
        x[t:end] = seg[: end - t]
        t = end + int(rng.uniform(0.05, 0.3) * SR)
    return 0.5 * x / np.abs(x).max()


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(n)
    if kind == "pink":
        f = np.fft.rfftfreq(n)
        spec = np.fft.rfft(w)
        spec[1:] /= np.sqrt(f[1:])
        spec[0] = 0
        w = np.fft.irfft(spec, n)
    return w


def mix(clean: np.ndarray, snr_db: float, kind: str = "white", seed: int = 0) -> np.ndarray:
    """``clean`` plus noise whose power is ``snr_db`` below the signal's (over the whole signal)."""
    n = noise(kind, clean.size, np.random.default_rng(seed))
    n *= np.sqrt(np.mean(clean ** 2) / np.mean(n ** 2) / 10 ** (snr_db / 10))
    return clean + n


def build(nk_pm, name: str, **params):
    comp = nk_pm.registry.get("predict", name)
    return comp.build({**comp.defaults(), **params})


# --- contracts -------------------------------------------------------------------------------


class TestSnr(PredictorContract):
    name = "snr"


class TestSpeaker(PredictorContract):
    name = "speaker"


def test_entry_module_imports_no_heavy_library():
    code = ("import sys, nk_predict; heavy = [m for m in ('torch', 'transformers', 'speechmos', 'resemblyzer', "
            "'sklearn', 'librosa') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


# --- snr -------------------------------------------------------------------------------------


def test_snr_estimate_within_3_db_of_known_snrs():
    from nk_predict._snr import snr_db

    errors = []
    for kind in ("white", "pink"):
        for true in (0, 5, 10, 15, 20, 25, 30):
            for seed in range(3):
                est = snr_db(mix(speech(seed), true, kind, seed=100 + seed))
                errors.append(est - true)
    errors_arr = np.abs(np.array(errors))
    # measured: MAE 1.18 dB, worst 2.1 dB (white noise at 0–30 dB reads 1–2 dB low)
    assert errors_arr.mean() <= 3.0, errors
    assert errors_arr.max() <= 4.0, errors


def test_snr_orders_signals_and_clips_silence(nk_pm):
    snr = build(nk_pm, "snr")
    clean = speech(1)
    values = [float(snr.extract(mix(clean, s).astype(np.float32), SR)[0]) for s in (0, 10, 20)]
    assert values == sorted(values)
    assert float(snr.extract(np.zeros(SR, dtype=np.float32), SR)[0]) == pytest.approx(-10.0)  # no signal: floor
    assert float(snr.extract(clean.astype(np.float32), SR)[0]) == pytest.approx(60.0)  # no noise: ceiling


def test_snr_bad_bounds_are_a_user_error(nk_pm):
    with pytest.raises(UserError, match="floor"):
        build(nk_pm, "snr", floor=30.0, ceiling=20.0)


def test_snr_long_signal_in_blocks_matches():
    from nk_predict import _snr

    x = mix(np.tile(speech(2), 40), 10.0)  # 120 s: 30 blocks of 2000 frames... 7500 frames
    assert abs(_snr.snr_db(x) - 10.0) < 3.0


# --- speaker ---------------------------------------------------------------------------------


def test_clustering_recovers_synthetic_speakers():
    from nk_predict._speaker import cluster, quality

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 256))
    truth = np.repeat(np.arange(5), 12)
    emb = centres[truth] + 0.3 * rng.standard_normal((60, 256))
    labels = cluster(emb, n_speakers=5, threshold=None)
    assert quality(truth, labels)["ari"] == pytest.approx(1.0)
    automatic = cluster(emb, n_speakers=None, threshold=None)  # the count with the best silhouette
    assert quality(truth, automatic) == {"ari": 1.0, "purity": 1.0, "clusters": 5, "speakers": 5}
    for linkage in ("ward", "average", "complete"):
        fixed = cluster(emb, n_speakers=5, threshold=None, clustering="agglomerative", linkage=linkage)
        assert quality(truth, fixed)["ari"] == pytest.approx(1.0)
    for linkage in ("average", "complete"):
        cut = cluster(emb, n_speakers=None, threshold=0.5, clustering="agglomerative", linkage=linkage)
        assert quality(truth, cut)["ari"] == 1.0
    assert labels[0] == "spk01"
    with pytest.raises(ValueError, match="agglomerative"):
        cluster(emb, n_speakers=None, threshold=0.5)


def test_whitening_lets_kmeans_see_speakers_past_a_shared_nuisance():
    """Rows of 4 speakers that also differ by 3 'words' along directions with 3× the speakers'
    spread: k-means on the centred unit vectors splits by word; whitened to 2 × 4 dimensions, the
    speaker and word directions weigh alike and k-means finds the speakers."""
    from nk_predict._speaker import cluster, normalise, quality

    rng = np.random.default_rng(1)
    speakers, words = rng.standard_normal((4, 64)), 3 * rng.standard_normal((3, 64))
    who, what = np.repeat(np.arange(4), 30), np.tile(np.arange(3), 40)
    emb = speakers[who] + words[what] + 0.4 * rng.standard_normal((120, 64))
    whitened = cluster(emb, n_speakers=4, threshold=None)
    plain = cluster(emb, n_speakers=4, threshold=None, whiten=0)
    assert quality(who, whitened)["ari"] > 0.9
    assert quality(who, plain)["ari"] < quality(who, whitened)["ari"]
    x = normalise(emb, 8)
    assert x.shape == (120, 8) and np.allclose(np.linalg.norm(x, axis=1), 1.0)


def test_kmeans_refuses_a_threshold(nk_pm):
    with pytest.raises(UserError, match="clustering=agglomerative"):
        build(nk_pm, "speaker", n_speakers=None, threshold=0.3)


def test_speaker_predictor_embeds_caches_and_clusters(tmp_path, nk_pm, nk_context, monkeypatch):
    """resemblyzer is a model of real voices: synthetic 'speakers' are not separable by it (ARI
    0.14 on the demo corpus), so this checks the mechanics; its quality on real speech (the
    Polish corpus) is in the README. Copies of one recording must land in one cluster."""
    rows = []
    for i in range(6):
        clean = mix(speech(i, dur=2.0), 30.0, seed=i)
        for copy in range(2):
            path = tmp_path / f"u{i}_{copy}.wav"
            sf.write(path, clean, SR)
            rows.append((str(path), i))
    frame = pd.DataFrame({"truth": [r[1] for r in rows]}, index=pd.Index([r[0] for r in rows], name="file"))
    out = build(nk_pm, "speaker", n_speakers=6).predict(frame, nk_context)
    assert out["speaker_pred"].nunique() == 6
    from nk_predict._speaker import quality

    assert quality(frame["truth"], out["speaker_pred"])["ari"] == pytest.approx(1.0)
    # the embeddings are cached: clustering again with a threshold computes none
    from nk_predict import Speaker

    monkeypatch.setattr(Speaker, "extract", lambda *a: (_ for _ in ()).throw(AssertionError("extracted")))
    again = build(nk_pm, "speaker", n_speakers=None, threshold=0.01,
                  clustering="agglomerative").predict(frame, nk_context)
    assert again["speaker_pred"].nunique() >= 6


# --- mos -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dnsmos_scores():
    """One module-scoped DNSMOS pass (its first call compiles librosa's numba code, 7–70 s)."""
    try:
        from nk_predict._mos import dnsmos
    except Exception as exc:  # pragma: no cover - a broken install
        pytest.skip(f"speechmos does not import: {exc}")
    clean = speech(3, dur=4.0)
    return {s: dnsmos(mix(clean, s).astype(np.float32) if s is not None else clean.astype(np.float32), SR,
                      personalized=False) for s in (None, 20.0, 0.0)}


def test_mos_added_noise_lowers_bak_and_ovrl(dnsmos_scores):
    # [P.808, SIG, BAK, OVRL]
    clean, mid, noisy = (dnsmos_scores[k] for k in (None, 20.0, 0.0))
    assert noisy[2] < mid[2] <= clean[2] + 0.3 and noisy[3] < clean[3], dnsmos_scores
    assert all(1.0 <= v <= 5.0 for s in dnsmos_scores.values() for v in s)


# --- hub models ------------------------------------------------------------------------------


def tiny_wav2vec2_config(**extra):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
                          num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True,
                          vocab_size=8, **extra)


@pytest.fixture(scope="module")
def tiny_age_gender(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from transformers import Wav2Vec2FeatureExtractor

    from nk_predict._hub import architectures

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("age-gender")
    architectures()["age_gender"](tiny_wav2vec2_config()).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


def test_age_and_gender_run_with_a_tiny_local_model(tiny_age_gender, tiny_corpus, nk_pm, nk_context):
    age = build(nk_pm, "age", model=str(tiny_age_gender), device="cpu")
    out = age.predict(tiny_corpus, nk_context)
    assert list(out.columns) == ["age_pred"] and out["age_pred"].notna().all()
    gender = build(nk_pm, "gender", model=str(tiny_age_gender), device="cpu")
    g = gender.predict(tiny_corpus, nk_context)
    assert list(g.columns) == ["gender_pred", "gender_proba.female", "gender_proba.male", "gender_proba.child"]
    assert np.allclose(g.filter(like="proba").sum(axis=1), 1.0, atol=1e-5)
    assert set(g["gender_pred"]) <= {"female", "male", "child"}


def test_hub_batches_and_windows_match_single_rows(tiny_age_gender, nk_pm):
    age = build(nk_pm, "age", model=str(tiny_age_gender), device="cpu", window_seconds=2.0)
    signals = [speech(s, dur=d).astype(np.float32) for s, d in ((1, 1.0), (2, 1.7), (3, 5.0))]
    batch = age.extract_batch(signals, SR)
    single = [age.extract(s, SR) for s in signals]
    for b, s in zip(batch, single, strict=True):
        assert np.allclose(b, s, atol=1e-4)


def test_hub_model_offline_fails_clearly(nk_pm, monkeypatch, tmp_path):
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    age = build(nk_pm, "age")  # the real audEERING id, not in this empty cache
    with pytest.raises(UserError) as info:
        age.extract(np.zeros(SR, dtype=np.float32), SR)
    text = str(info.value)
    assert "audeering/wav2vec2-large-robust-24-ft-age-gender" in text and "HF_HUB_OFFLINE" in text
    assert "nk models fetch audeering/wav2vec2-large-robust-24-ft-age-gender" in text


def test_emotion_uses_the_models_classes(tmp_path, tiny_corpus, nk_pm, nk_context):
    pytest.importorskip("torch")
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    labels = ["ang", "hap", "neu", "sad"]
    cfg = tiny_wav2vec2_config(num_labels=4, id2label=dict(enumerate(labels)),
                               label2id={v: k for k, v in enumerate(labels)})
    Wav2Vec2ForSequenceClassification(cfg).save_pretrained(tmp_path / "emo")
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(tmp_path / "emo")
    emo = build(nk_pm, "emotion", model=str(tmp_path / "emo"), device="cpu")
    assert list(emo.output_columns()) == ["emotion_pred", *(f"emotion_proba.{c}" for c in labels)]
    out = emo.predict(tiny_corpus, nk_context)
    assert set(out["emotion_pred"]) <= set(labels)


def test_squim_without_torchaudio_says_what_it_needs(nk_pm):
    pesq = build(nk_pm, "pesq", device="cpu")
    try:
        import torchaudio  # noqa: F401
    except Exception:
        with pytest.raises(UserError, match="SQUIM"):
            pesq.extract(np.zeros(SR, dtype=np.float32), SR)
    else:  # pragma: no cover - a machine where torchaudio loads
        pytest.skip("torchaudio imports here: SQUIM would download its weights")


# --- the commands ----------------------------------------------------------------------------


def noisy_class_corpus(folder: Path) -> Path:
    """16 speakers × 2 classes × 3 utterances; every 'angry' row degraded with noise at 0–10 dB,
    every 'neutral' row at 25–35 dB (a quality confound of the kind the seed paper warns about)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    rng = np.random.default_rng(5)
    for spk in range(16):
        for label in ("angry", "neutral"):
            for utt in range(3):
                snr = rng.uniform(0, 10) if label == "angry" else rng.uniform(25, 35)
                path = folder / f"spk{spk:02d}_{label}_{utt}.wav"
                sf.write(path, mix(speech(spk * 100 + utt, dur=1.5), snr, seed=spk + utt), SR)
                rows.append({"file": path.name, "speaker": f"spk{spk:02d}", "emotion": label,
                             "gender": "female" if spk % 2 else "male"})
    table = folder / "table.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return table


def test_nk_predict_writes_a_table_that_nk_run_and_explore_load(tmp_path, monkeypatch, nk_pm):
    monkeypatch.chdir(tmp_path)
    cache, results = tmp_path / "cache", tmp_path / "results"
    corpus = noisy_class_corpus(tmp_path / "db")
    common = [f"cache_dir={cache}", f"results_root={results}", "n_jobs=1", "data=csv", f"data.csv.path={corpus}",
              "target=emotion"]
    assert main(["predict", "predict=[snr,speaker]", "predict.speaker.n_speakers=16", *common], pm=nk_pm) == 0
    (run,) = (results / "csv").glob("*-predict")
    info = json.loads((run / "predict.json").read_text())
    assert set(info["columns"]) == {"snr_pred", "speaker_pred"}
    assert (run / "plots" / "pred_snr_pred.png").exists() and (run / "plots" / "pred_speaker_pred.png").exists()
    assert (run / "report.html").exists()
    table = pd.read_csv(run / "table.csv")
    assert len(table) == 96 and table["snr_pred"].notna().all()
    by_class = table.groupby("emotion")["snr_pred"].mean()
    assert by_class["angry"] < 12 < 22 < by_class["neutral"]
    # the cache: a second run computes nothing
    assert main(["predict", "predict=[snr]", *common], pm=nk_pm) == 0
    # round trip: the speaker split on the predicted speakers of a table without speaker labels
    table.drop(columns=["speaker"]).to_csv(tmp_path / "nospk.csv", index=False)
    assert main(["run", "data=csv", f"data.csv.path={tmp_path / 'nospk.csv'}", "data.csv.rename={speaker_pred: speaker}",
                 "target=emotion", "feats=mfcc", f"cache_dir={cache}", f"results_root={results}", "n_jobs=1",
                 "report=[]"], pm=nk_pm) == 0
    # explore the predicted table: the estimated SNR is the strongest confound
    assert main(["explore", "data=csv", f"data.csv.path={run / 'table.csv'}", "target=emotion",
                 "explore.analyses=[bias]", "explore.report=false", f"cache_dir={cache}",
                 f"results_root={results}"], pm=nk_pm) == 0


def test_explore_predict_ranks_the_injected_quality_confound_first(tmp_path, monkeypatch, nk_pm):
    monkeypatch.chdir(tmp_path)
    corpus = noisy_class_corpus(tmp_path / "db")
    results = tmp_path / "results"
    assert main(["explore", "data=csv", f"data.csv.path={corpus}", "target=emotion", "predict=[snr]",
                 "explore.analyses=[bias]", "explore.report=false", "n_jobs=1", f"cache_dir={tmp_path / 'cache'}",
                 f"results_root={results}"], pm=nk_pm) == 0
    (run,) = (results / "csv").glob("*-explore")
    info = json.loads((run / "explore.json").read_text())
    first = info["bias"]["associations"][0]
    assert first["column"] == "snr_pred" and first["estimated"] is True and first["significant"]
    assert "snr_pred" in info["estimated"]
    assert "estimated" in (run / "tables" / "bias.csv").read_text().splitlines()[0]


def test_explore_predict_finds_the_degraded_emotion_of_the_demo_corpus(tmp_path, monkeypatch, nk_pm, capsys):
    """The README's worked example: the demo corpus with its angry rows at 5 dB SNR
    (data.demo.degrade); nk explore predict=[snr] ranks snr_pred (estimated) first."""
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    assert main(["explore", "predict=[snr]", "data.demo.degrade=angry", "data.demo.degrade_snr=5",
                 "data.demo.n_speakers=8", "data.demo.n_utterances=2", "explore.analyses=[bias]",
                 "explore.report=false", "n_jobs=1", f"cache_dir={tmp_path / 'cache'}",
                 f"results_root={results}"], pm=nk_pm) == 0
    (run,) = (results / "demo").glob("*-explore")
    info = json.loads((run / "explore.json").read_text())
    ranking = info["bias"]["associations"]
    print("ranking:", [(a["column"], a.get("estimated"), a.get("significant")) for a in ranking])
    first = ranking[0]
    assert first["column"] == "snr_pred" and first["estimated"] is True and first["significant"]
    table = pd.read_csv(run / "tables" / "bias.csv")
    assert table.iloc[0]["column"] == "snr_pred"


def test_demo_degrade_names_an_emotion(tmp_path, monkeypatch, nk_pm, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["explore", "predict=[snr]", "data.demo.degrade=furious", f"cache_dir={tmp_path / 'cache'}",
                 f"results_root={tmp_path / 'results'}"], pm=nk_pm)
    assert code == 2
    err = capsys.readouterr().err
    assert "data.demo.degrade" in err and "angry" in err


def test_nk_predict_without_predictors_is_a_user_error(tmp_path, monkeypatch, nk_pm, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", f"results_root={tmp_path}"], pm=nk_pm) == 2
    err = capsys.readouterr().err
    assert "at least one predictor" in err and "snr" in err
