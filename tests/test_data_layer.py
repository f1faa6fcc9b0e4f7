"""Data layer: CSV and audformat loaders, audio input, filters, splits, CV, leakage checks —
and the bad-input suite, each case asserting the exact behaviour through ``nk run``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from rich.console import Console
from sklearn.base import BaseEstimator, ClassifierMixin

from nk import hookimpl
from nk.cli import main
from nk.errors import UserError
from nk.pipeline import run_experiment
from nk.registry import param
from nk.results import load_model
from nk.testing import write_tone

FAST = ["feats=mfcc", "n_jobs=1", "model=knn", "model.n_neighbors=3"]


def make_corpus(folder: Path, *, speakers: int = 6, per_class: int = 3, classes=("low", "high"),
                seconds: float = 0.5, extra_columns: bool = True) -> pd.DataFrame:
    """Tones whose pitch depends on the class; files relative to ``folder`` as a CSV would have."""
    rows = []
    for s in range(speakers):
        gender = "female" if s % 2 else "male"
        base = 200.0 if gender == "female" else 110.0
        for c, label in enumerate(classes):
            for u in range(per_class):
                rel = f"audio/s{s}/{label}_{u}.wav"
                write_tone(folder / rel, f0=base * (1 + 0.35 * c) + 4 * u, seconds=seconds,
                           loudness=0.15 + 0.15 * c, seed=100 * s + 10 * c + u)
                row = {"file": rel, "emotion": label, "speaker": f"s{s}"}
                if extra_columns:
                    row.update(gender=gender, age=20 + 5 * s)
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "db"
    make_corpus(folder).to_csv(folder / "db.csv", index=False)
    return folder


@pytest.fixture
def nk_run(nk_pm, nk_compose, capsys, tmp_path):
    """Run `nk run ARGS` in-process (as the CLI does); returns (exit code, stdout, stderr, results)."""

    def run(*args: str):
        code = main(["run", *args, f"results_root={tmp_path / 'results'}"], pm=nk_pm)
        out = capsys.readouterr()
        results = None
        files = sorted((tmp_path / "results").rglob("results.json"), key=lambda p: p.stat().st_mtime)
        if code == 0 and files:
            results = json.loads(files[-1].read_text())
        return code, out.out, " ".join(out.err.split()), results

    return run


def csv_args(path: Path, *extra: str) -> list[str]:
    return ["data=csv", f"data.csv.path={path}", "target=emotion", *FAST, *extra]


# --- the bad-input suite --------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


BAD_CASES = {
    # id: (setup(folder) -> extra args, expected fragments of the one-paragraph error)
    "csv-missing": (lambda d: [f"data.csv.path={d / 'nope.csv'}"], ["nope.csv", "cannot be read: not found"]),
    "csv-empty-file": (lambda d: [f"data.csv.path={_write(d / 'e.csv', '')}"], ["Cannot read the CSV", "e.csv"]),
    "csv-header-only": (lambda d: ["data.csv.path=" + str(_write(d / "h.csv", "file,emotion,speaker\n"))],
                        ["has no rows"]),
    "no-file-column": (lambda d: ["data.csv.path=" + str(_write(d / "n.csv", "path,emotion\na.wav,x\n"))],
                       ["no column 'file'", "Allowed: 'path', 'emotion'", "file_column"]),
    "unknown-target": (lambda d: ["target=mood"], ["target column 'mood'", "emotion, speaker"]),
    "nan-labels": (lambda d: [f"data.csv.path={_edit(d, lambda f: f.assign(emotion=f.emotion.where(f.index != 3)))}"],
                   ["1 rows have no value in the target column 'emotion'", "s0/high_0.wav", "filter.required"]),
    "duplicate-rows": (lambda d: [f"data.csv.path={_edit(d, lambda f: pd.concat([f, f.iloc[:2]]))}"],
                       ["2 rows", "repeat a file", "low_0.wav"]),
    "missing-audio": (lambda d: [_remove(d, "audio/s1/low_0.wav", "audio/s2/high_2.wav")],
                      ["2 of 36 audio files cannot be used", "s1/low_0.wav: not found",
                       "s2/high_2.wav: not found", "audio.bad_files=skip"]),
    "corrupt-wav": (lambda d: [_garble(d / "audio/s3/low_1.wav", b"RIFF\x00\x00garbage" * 10)],
                    ["s3/low_1.wav: unreadable"]),
    "zero-length-wav": (lambda d: [_garble(d / "audio/s3/low_1.wav", b"")], ["s3/low_1.wav: empty file"]),
    "no-samples-wav": (lambda d: [_no_samples(d / "audio/s4/low_0.wav")], ["s4/low_0.wav: no audio samples"]),
    "too-short": (lambda d: ["audio.min_duration=0.6"], ["36 of 36 audio files", "shorter than audio.min_duration"]),
    "label-not-in-data": (lambda d: ["labels=[low,hgih]"], ["labels lists ['hgih']", "Allowed: high, low"]),
    "one-class": (lambda d: ["labels=[low]"], ["only one class ('low')"]),
    "rename-unknown": (lambda d: ["data.csv.rename={mood: emotion}"], ["Cannot rename columns ['mood']"]),
    "label-map-unknown": (lambda d: ["data.csv.label_map={Low: quiet}"], ["label_map renames ['Low']", "Allowed: high, low"]),
    "filter-unknown-column": (lambda d: ["filter.values={dialect: [north]}"], ["column 'dialect' is not in the data"]),
    "given-without-split": (lambda d: ["split.method=given"], ["split.method=given needs a split", "36 rows"]),
    "regression-on-words": (lambda d: ["task=regression", "model=knn_reg"], ["non-numeric values", "task=classification"]),
    "test-class-missing": (lambda d: [f"data.csv.path={_edit(d, _only_low_for_odd)}", "split.stratify=[]"],
                           ["Classes ['high']", "split"]),
    "speaker-overlap-roles": (lambda d: _two_dbs_same_speakers(d), ["speakers are in train and in test"]),
    "bins-wrong-names": (lambda d: ["target=age", "bins.edges=[30]", "bins.names=[a,b,c]"],
                         ["bins.names has 3 names for 2 bins"]),
    "path-required": (lambda d: ["data.csv.path=???"], ["'path' parameter of data 'csv' must be set"]),
    "too-few-speakers": (lambda d: ["split.test_size=0.95"], ["Too few speakers (6)"]),
    "cv-with-test-role": (lambda d: ["split.method=loso", "data.csv.role=test"], ["role dev or test"]),
}


def _edit(folder: Path, fn) -> Path:
    frame = pd.read_csv(folder / "db.csv")
    out = folder / "edited.csv"
    fn(frame).to_csv(out, index=False)
    return out


def _remove(folder: Path, *files: str) -> str:
    for f in files:
        (folder / f).unlink()
    return "n_jobs=1"


def _garble(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    return "n_jobs=1"


def _no_samples(path: Path) -> str:
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    return "n_jobs=1"


def _only_low_for_odd(frame: pd.DataFrame) -> pd.DataFrame:
    # 'high' only from speaker s0: whichever split gets s0, the other lacks the class
    keep = (frame.emotion == "low") | (frame.speaker == "s0")
    return frame[keep]


def _two_dbs_same_speakers(folder: Path) -> list[str]:
    frame = pd.read_csv(folder / "db.csv")
    frame.iloc[::2].to_csv(folder / "a.csv", index=False)
    frame.iloc[1::2].to_csv(folder / "b.csv", index=False)
    conf = folder.parent / "work" / "conf" / "data"
    conf.mkdir(parents=True, exist_ok=True)
    for name, role in (("a", "train"), ("b", "test")):
        (conf / f"{name}.yaml").write_text(
            f"defaults:\n  - csv@{name}\n{name}:\n  path: {folder / (name + '.csv')}\n  role: {role}\n")
    return ["REPLACE", "data=[a,b]", "target=emotion", *FAST]


@pytest.mark.parametrize("case", list(BAD_CASES), ids=list(BAD_CASES))
def test_bad_input_gives_one_clear_paragraph(case, corpus_dir, nk_run):
    setup, expected = BAD_CASES[case]
    extra = setup(corpus_dir)
    args = extra[1:] if extra[:1] == ["REPLACE"] else [*csv_args(corpus_dir / "db.csv"), *extra]
    code, out, err, _ = nk_run(*args)
    assert code == 2, out + err
    assert err.startswith("Error:") and "Traceback" not in err + out
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in: {err}"


def test_bad_input_suite_is_large_enough():
    assert len(BAD_CASES) >= 20


# --- handled correctly ----------------------------------------------------------------------------


def test_csv_run_with_relative_paths_from_another_working_directory(corpus_dir, nk_run, monkeypatch, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rel = os.path.relpath(corpus_dir / "db.csv", elsewhere)
    code, _, err, results = nk_run(*csv_args(Path(rel)))
    assert code == 0, err
    assert results["data"]["rows"]["train"] + results["data"]["rows"]["test"] == 36
    assert results["test"]["uar"]["value"] > 0.8  # the classes differ in pitch


def test_audio_formats_rates_and_channels_are_normalised(tmp_path):
    from nk import audio

    base = write_tone(tmp_path / "base.wav", f0=150, seconds=1.0, sampling_rate=16000)
    ref, _ = audio.read(base, sampling_rate=16000)
    cases = {
        "stereo-44k.wav": dict(sampling_rate=44100, channels=2),
        "mono-8k.wav": dict(sampling_rate=8000),
        "flac.flac": dict(sampling_rate=22050),
        "ogg.ogg": dict(sampling_rate=16000),
    }
    for name, kw in cases.items():
        path = write_tone(tmp_path / name, f0=150, seconds=1.0, **kw)
        signal, rate = audio.read(path, sampling_rate=16000)
        assert rate == 16000 and signal.ndim == 1 and signal.dtype == np.float32
        assert abs(len(signal) - len(ref)) <= 2, name
        spec = np.abs(np.fft.rfft(signal))
        assert abs(np.argmax(spec) * 16000 / len(signal) - 150) < 5, name


def test_mp3_when_the_reader_supports_it(tmp_path):
    from nk import audio

    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    signal = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32) * 0.3
    sf.write(tmp_path / "a.mp3", signal, 16000, format="MP3")
    out, rate = audio.read(tmp_path / "a.mp3", sampling_rate=16000)
    assert rate == 16000 and abs(len(out) - 16000) < 2000


def test_unicode_and_spaces_in_paths(tmp_path, nk_run):
    folder = tmp_path / "Nagrania ćwiczeń" / "zbiór danych"
    frame = make_corpus(folder)
    frame["file"] = frame["file"].str.replace("audio/", "audio ż/", regex=False)
    for rel in frame["file"]:
        src = folder / rel.replace("audio ż/", "audio/")
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, folder / rel)
    frame.to_csv(folder / "dane.csv", index=False)
    code, _, err, results = nk_run(*csv_args(folder / "dane.csv"))
    assert code == 0, err
    assert results["load"]["databases"] == {"csv": 36}


def test_bad_files_can_be_skipped_and_are_recorded(corpus_dir, nk_run):
    (corpus_dir / "audio/s1/low_0.wav").unlink()
    (corpus_dir / "audio/s2/high_1.wav").write_bytes(b"")
    code, _, err, results = nk_run(*csv_args(corpus_dir / "db.csv"), "audio.bad_files=skip")
    assert code == 0, err
    skipped = {Path(s["file"]).name: s["problem"] for s in results["load"]["skipped_files"]}
    assert skipped == {"low_0.wav": "not found", "high_1.wav": "empty file (0 bytes)"}
    assert sum(results["data"]["rows"].values()) == 34


def test_filters_remove_rows_and_are_logged(corpus_dir, nk_run):
    frame = pd.read_csv(corpus_dir / "db.csv")
    frame.loc[0, "gender"] = None
    frame.to_csv(corpus_dir / "f.csv", index=False)
    code, _, err, results = nk_run(*csv_args(corpus_dir / "f.csv"), "filter.required=[gender]",
                                   "filter.max_per_speaker=4", "filter.values={gender: [male, female]}",
                                   "filter.max_duration=10")
    assert code == 0, err
    removed = {f["filter"].split("=")[0]: f["removed"] for f in results["load"]["filters"]}
    assert removed["required"] == 1 and removed["values.gender"] == 0
    assert removed["max_per_speaker"] == 35 - 24 and removed["max_duration"] == 0
    assert sum(results["data"]["rows"].values()) == 24


def test_labels_drop_other_classes_and_label_map_merges(tmp_path, nk_run):
    folder = tmp_path / "db3"
    make_corpus(folder, classes=("low", "mid", "high")).to_csv(folder / "db.csv", index=False)
    code, _, err, results = nk_run(*csv_args(folder / "db.csv"), "labels=[low,high]")
    assert code == 0, err
    assert set(results["test"]["labels"]) == {"low", "high"}
    code, _, err, results = nk_run(*csv_args(folder / "db.csv"), "+data.csv.label_map={mid: high}")
    assert code == 0, err
    assert set(results["test"]["labels"]) == {"low", "high"}
    assert sum(results["data"]["labels"]["train"].values()) + sum(results["data"]["labels"]["test"].values()) == 54


def test_binning_a_continuous_target(corpus_dir, nk_run):
    code, _, err, results = nk_run(*csv_args(corpus_dir / "db.csv"), "target=age", "bins.edges=[32]",
                                   "bins.names=[young,old]", "split.method=random", "split.test_size=0.3")
    assert code == 0, err
    assert results["task"] == "classification" and set(results["test"]["labels"]) == {"young", "old"}
    code, _, err, results = nk_run(*csv_args(corpus_dir / "db.csv"), "target=age", "bins.quantiles=2",
                                   "split.method=random", "split.test_size=0.3")
    assert code == 0, err
    assert len(results["test"]["labels"]) == 2


def test_several_databases_with_roles_and_db_column(corpus_dir, nk_run, tmp_path):
    other = tmp_path / "db2"
    frame = make_corpus(other, speakers=4)
    frame["speaker"] = "t" + frame["speaker"]
    frame.to_csv(other / "test.csv", index=False)
    conf = tmp_path / "work" / "conf" / "data"
    conf.mkdir(parents=True)
    (conf / "train_db.yaml").write_text(f"defaults:\n  - csv@train_db\ntrain_db:\n  path: {corpus_dir / 'db.csv'}\n  role: train\n")
    (conf / "test_db.yaml").write_text(f"defaults:\n  - csv@test_db\ntest_db:\n  path: {other / 'test.csv'}\n  role: test\n  rename: {{emotion: mood}}\n")
    code, _, err, results = nk_run("data=[train_db,test_db]", "target=mood", *FAST,
                                   "data.train_db.rename={emotion: mood}")
    assert code == 0, err
    assert results["load"]["databases"] == {"train_db": 36, "test_db": 24}
    assert results["data"]["rows"] == {"train": 36, "test": 24}
    assert results["data"]["speakers"] == {"train": 6, "test": 4}


def test_random_split_warns_about_speaker_overlap(corpus_dir, nk_run):
    code, _out, err, results = nk_run(*csv_args(corpus_dir / "db.csv"), "split.method=random")
    assert code == 0, err
    log = Path(results["run_dir"], "nk.log").read_text()
    assert "speakers are in train and in test" in log and "split.method=random" in log


def test_identical_audio_in_two_splits_is_reported(corpus_dir, nk_run):
    frame = pd.read_csv(corpus_dir / "db.csv")
    copy = frame.iloc[0].copy()
    copy["file"] = "audio/copy_of_s0_low_0.wav"
    copy["speaker"] = "s5"
    shutil.copy(corpus_dir / frame.iloc[0]["file"], corpus_dir / copy["file"])
    pd.concat([frame, copy.to_frame().T]).to_csv(corpus_dir / "dup.csv", index=False)
    for seed in range(6):  # find a seed that puts s0 and s5 into different splits
        code, _, err, results = nk_run(*csv_args(corpus_dir / "dup.csv"), f"seed={seed}")
        assert code == 0, err
        if results["duplicate_audio"]:
            break
    (group,) = results["duplicate_audio"]
    assert {Path(f).name for f in group} == {"low_0.wav", "copy_of_s0_low_0.wav"}
    assert "Identical audio in more than one split" in Path(results["run_dir"], "nk.log").read_text()


def test_segmented_csv(corpus_dir, nk_run):
    frame = pd.read_csv(corpus_dir / "db.csv")
    halves = pd.concat([frame.assign(start=0.0, end=0.25), frame.assign(start=0.25, end=None)])
    halves.to_csv(corpus_dir / "seg.csv", index=False)
    code, _, err, results = nk_run(*csv_args(corpus_dir / "seg.csv"))
    assert code == 0, err
    assert sum(results["data"]["rows"].values()) == 72
    assert abs(results["data"]["duration_s"]["total"] - 36 * 0.5) < 0.1


def test_audformat_database(tmp_path, nk_run):
    import audformat

    root = tmp_path / "afdb"
    frame = make_corpus(root, extra_columns=False)
    db = audformat.Database("tones")
    db.schemes["emotion"] = audformat.Scheme(labels=["low", "high"])
    speakers = pd.Index([f"s{i}" for i in range(6)], name="speaker")
    db["speaker"] = audformat.MiscTable(speakers)
    db.schemes["gender"] = audformat.Scheme(labels=["female", "male"])
    db["speaker"]["gender"] = audformat.Column(scheme_id="gender")
    db["speaker"]["gender"].set(["female" if i % 2 else "male" for i in range(6)])
    db.schemes["speaker"] = audformat.Scheme("str", labels="speaker")
    db.splits["train"] = audformat.Split("train")
    db.splits["test"] = audformat.Split("test")
    test_spk = {"s0", "s1"}
    for part in ("train", "test"):
        rows = frame[frame.speaker.isin(test_spk) == (part == "test")]
        db[f"emotion.{part}"] = audformat.Table(audformat.filewise_index(list(rows.file)), split_id=part)
        table = db[f"emotion.{part}"]
        table["emotion"] = audformat.Column(scheme_id="emotion")
        table["emotion"].set(list(rows.emotion))
        table["speaker"] = audformat.Column(scheme_id="speaker")
        table["speaker"].set(list(rows.speaker))
    db.save(str(root))
    code, _, err, results = nk_run("data=audformat", f"data.audformat.path={root}", "target=emotion",
                                   *FAST, "split.method=given")
    assert code == 0, err
    assert results["data"]["rows"] == {"train": 24, "test": 12}
    assert results["data"]["gender"]["test"] == {"female": 6, "male": 6}


# --- splits and cross-validation -------------------------------------------------------------------


def test_same_seed_same_split_and_results_other_seed_other_split(nk_run):
    args = ["data.demo.n_utterances=2", *FAST]
    _, _, _, a = nk_run(*args)
    _, _, _, b = nk_run(*args)
    _, _, _, c = nk_run(*args, "seed=3")
    test_speakers = [pd.read_csv(Path(r["run_dir"]) / "predictions.csv", index_col=0).index.map(
        lambda f: Path(f).parent.name).unique().sort_values().tolist() for r in (a, b, c)]
    assert test_speakers[0] == test_speakers[1] and a["test"] == b["test"]
    assert test_speakers[0] != test_speakers[2]


@pytest.mark.parametrize(("method", "extra", "n_folds"), [
    pytest.param("loso", [], 12, id="loso"),
    pytest.param("lsgo", ["split.n_folds=3"], 3, id="lsgo"),
    pytest.param("kfold", ["split.n_folds=4"], 4, id="kfold"),
])
def test_cross_validation_pools_out_of_fold_predictions(method, extra, n_folds, nk_run):
    code, out, err, results = nk_run("data.demo.n_utterances=2", *FAST, f"split.method={method}", *extra)
    assert code == 0, err
    cv = results["cv"]
    assert cv["n_folds"] == n_folds and len(cv["folds"]) == n_folds
    assert sum(f["n_test"] for f in cv["folds"]) == 96  # every row tested exactly once
    pred = pd.read_csv(Path(results["run_dir"]) / "predictions.csv", index_col=0)
    assert len(pred) == 96 and pred.index.is_unique
    assert results["evaluated_on"] == "pooled cross-validation test folds"
    low, high = results["test"]["uar"]["ci"]
    assert low <= results["test"]["uar"]["value"] <= high
    assert "±" in out


def test_only_reported_metrics_get_a_bootstrap_ci(nk_run, monkeypatch):
    """Per-fold scores and the dev scores of a grid search use only the value: no bootstrap."""
    from nk import metrics

    real = metrics.classification_metrics
    resamples: list[int] = []

    def recording(*args, **kwargs):  # a spy: records n_resamples, computes with the real function
        resamples.append(kwargs["n_resamples"])
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics, "classification_metrics", recording)
    code, _, err, results = nk_run("data.demo.n_utterances=2", *FAST, "split.method=lsgo",
                                   "split.n_folds=3", "split.dev_size=0.25",
                                   "search.params={n_neighbors: [1, 3]}")
    assert code == 0, err
    # pooled test and pooled dev are reported with their CI; 3 folds + 3 × 2 dev scores are not
    assert sorted(resamples) == [0] * 9 + [1000, 1000]
    assert results["test"]["uar"]["n_resamples"] == 1000 and "ci" in results["dev"]["uar"]
    assert all(set(f) == {"fold", "n_test", "uar"} for f in results["cv"]["folds"])


def test_speaker_split_is_stratified_and_balanced_split_balances(nk_run):
    _, _, _, r = nk_run("data.demo.n_utterances=1", *FAST)
    assert r["data"]["gender"]["test"] == {"female": 8, "male": 8}  # 2 + 2 of 12 speakers × 4
    code, _, err, r = nk_run("data.demo.n_utterances=1", *FAST, "split.method=balanced",
                             "split.balance_on=[gender,age]", "split.test_size=0.33")
    assert code == 0, err
    assert r["data"]["gender"]["test"]["female"] == r["data"]["gender"]["test"]["male"]


# --- model selection never sees test ---------------------------------------------------------------


@dataclass
class RowIdConfig:
    """No parameters."""


class RowId:
    """Feature = a stable number per file, so a learner can tell which rows it was given."""

    process_safe = False
    sampling_rate = None

    def feature_names(self):
        return ["id"]

    def extract(self, signal, rate):
        return np.array([float(np.round(np.abs(signal).sum(), 3))], dtype=np.float32)


@dataclass
class RecorderConfig:
    trials: int = param(3, ge=1, help="candidate settings tried on dev")


class Recorder(ClassifierMixin, BaseEstimator):
    """A 'selecting' learner: may look at dev; records every row it is given."""

    def __init__(self, *, trials: int = 3) -> None:
        self.trials = trials

    def fit(self, X, y, X_dev=None, y_dev=None):
        seen = set(np.round(X[:, 0], 3))
        if X_dev is not None:
            seen |= set(np.round(X_dev[:, 0], 3))
        self.seen_ = seen
        self.classes_ = np.unique(y)
        self.best_ = self.classes_[0]
        return self

    def predict(self, X):
        return np.full(len(X), self.best_)


class SelectionPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("rowid", RowId, RowIdConfig, description="row identity as a feature")

    @hookimpl
    def nk_register_learners(self, register):
        register("recorder", Recorder, RecorderConfig, description="records the rows it sees")


def test_test_data_is_never_used_for_model_selection(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(SelectionPlugin(), name="nk-selection")
    cfg = nk_compose(["data.demo.n_utterances=2", "feats=rowid", "model=recorder", "scale=none",
                      "split.dev_size=0.25", "split.test_size=0.25"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    from nk import audio

    model = load_model(run_dir / "model")["model"]
    test_rows = pd.read_csv(run_dir / "predictions.csv", index_col=0).index
    assert len(test_rows) == results["data"]["rows"]["test"] > 0
    test_ids = {round(float(np.abs(audio.read(f, sampling_rate=16000)[0]).sum()), 3) for f in test_rows}
    assert len(model.seen_) == results["data"]["rows"]["train"] + results["data"]["rows"]["dev"]
    assert not (model.seen_ & test_ids), "the learner saw test rows"
    assert results["model_selection"].startswith("dev:")


def test_no_speaker_column_needs_random_split(tmp_path, nk_run):
    folder = tmp_path / "nospk"
    make_corpus(folder).drop(columns=["speaker"]).to_csv(folder / "db.csv", index=False)
    code, _, err, _ = nk_run(*csv_args(folder / "db.csv"))
    assert code == 2 and "needs a 'speaker' column" in err and "split.method=random" in err
    code, _, err, results = nk_run(*csv_args(folder / "db.csv"), "split.method=random")
    assert code == 0, err
    assert results["test"]["uar"]["ci_unit"] == "sample"


def test_user_error_is_a_user_error_type():
    assert issubclass(UserError, Exception)
