"""nk.splits internals: the balanced split's candidate scoring and the duplicate-audio check."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nk import splits
from nk.errors import UserError
from nk.splits import Fold

# --- the balanced split -----------------------------------------------------------------------------
# _reference_* is the implementation before scoring was vectorised (one pandas value_counts per
# candidate, part and column), kept here to pin candidates, scores and choice to it.


def _reference_stratified(speakers: pd.DataFrame, stratify: list[str], test_size: float,
                          dev_size: float, seed: int) -> dict[Any, str]:
    rng = np.random.default_rng(seed)
    keys = [c for c in stratify if c in speakers.columns]
    if "_single_label" in speakers.columns and speakers["_single_label"].mean() >= 0.8:
        keys = ["_label", *keys]
    order: list[Any] = []
    groups = speakers.groupby(keys, sort=True, observed=True, dropna=False) if keys else [(None, speakers)]
    for _, members in groups:
        ids = np.array(sorted(members.index, key=str), dtype=object)
        rng.shuffle(ids)
        order.extend(ids)
    n = len(order)
    n_test = round(test_size * n) if test_size > 0 else 0
    n_test = max(n_test, 1) if test_size > 0 else 0
    n_dev = max(round(dev_size * n), 1) if dev_size > 0 else 0
    if n_test + n_dev >= n:
        raise UserError("Too few speakers")
    assignment = {spk: "train" for spk in order}
    taken = splits._spaced(n, n_test, offset=rng.random())
    for i in taken:
        assignment[order[i]] = "test"
    rest = [i for i in range(n) if i not in taken]
    for j in splits._spaced(len(rest), n_dev, offset=rng.random()):
        assignment[order[rest[j]]] = "dev"
    return assignment


def _reference_distance(frame: pd.DataFrame, split: pd.Series, columns: list[str]) -> float:
    total = 0.0
    parts = [p for p in ("train", "dev", "test") if (split == p).any()]
    for col in columns:
        if col not in frame.columns:
            continue
        values = frame[col]
        numeric = pd.api.types.is_numeric_dtype(values) and values.nunique() > 10
        if numeric:
            values = pd.qcut(values.rank(method="first"), 4, labels=False)
        overall = values.value_counts(normalize=True)
        for part in parts:
            dist = values[split == part].value_counts(normalize=True).reindex(overall.index, fill_value=0)
            total += 0.5 * float(np.abs(dist - overall).sum())
    return total


def _corpus(n_speakers: int, rows: int, *, seed: int = 0, mixed_labels: bool = False,
            missing: bool = False) -> pd.DataFrame:
    """Speakers with a label (one each, or mixed), gender, age, a categorical region; optional gaps."""
    rng = np.random.default_rng(seed)
    speaker = np.repeat([f"spk{i}" for i in range(n_speakers)], rows)
    if mixed_labels:
        label = rng.choice(["ang", "hap", "neu"], size=len(speaker))
    else:
        label = np.repeat(rng.choice(["ang", "hap", "neu", "sad"], size=n_speakers), rows)
    frame = pd.DataFrame({
        "speaker": speaker,
        "emotion": label,
        "gender": np.repeat(rng.choice(["female", "male"], size=n_speakers), rows),
        "age": np.repeat(rng.integers(18, 80, size=n_speakers), rows).astype(float),
        "region": pd.Categorical(np.repeat(rng.choice(["n", "s", "e"], size=n_speakers), rows),
                                 categories=["n", "s", "e", "w"]),
        "valence": rng.normal(size=len(speaker)),
    }, index=pd.Index([f"f{i}.wav" for i in range(len(speaker))], name="file"))
    if missing:  # whole speakers without gender/region/age, so a part can lack them entirely
        gaps = frame["speaker"].isin([f"spk{i}" for i in range(0, n_speakers, 3)])
        frame.loc[gaps, "gender"] = None
        frame.loc[gaps, "age"] = np.nan
        frame["region"] = frame["region"].where(~gaps)
    return frame


CASES = {  # corpus, target, task, covariates, test_size, dev_size, seed
    "single-label": (dict(n_speakers=30, rows=6), "emotion", "classification", ["gender", "age"],
                     0.2, 0.1, 0),
    "mixed-labels-missing": (dict(n_speakers=24, rows=8, mixed_labels=True, missing=True), "emotion",
                             "classification", ["gender", "region", "age"], 0.25, 0.0, 3),
    "few-speakers-ties": (dict(n_speakers=6, rows=4), "emotion", "classification", ["gender"],
                          0.33, 0.0, 7),
    "regression-missing": (dict(n_speakers=12, rows=5, missing=True), "valence", "regression",
                           ["gender", "region", "unknown_column"], 0.25, 0.25, 11),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_balanced_split_scores_and_chooses_as_the_reference(case):
    """Every candidate, its score (to the bit, so ties break alike) and the choice are the reference's."""
    table, target, task, covariates, test_size, dev_size, seed = CASES[case]
    frame = _corpus(**table)
    speakers = splits._speaker_table(frame, target, task)
    cfg = SimpleNamespace(test_size=test_size, dev_size=dev_size)
    chosen = splits._balanced(frame, speakers, target, covariates, cfg, seed)

    strata = splits._strata(speakers, [])
    candidates = np.stack([splits._draw(strata, test_size, dev_size, np.random.default_rng(seed * 1000 + i))
                           for i in range(500)])
    scores = splits._distances(frame, speakers.index.get_indexer(frame["speaker"]), candidates,
                               [target, *covariates])
    best: tuple[float, dict[Any, str]] | None = None  # the reference's choice: the first lowest score
    for i in range(500):
        candidate = _reference_stratified(speakers, [], test_size, dev_size, seed * 1000 + i)
        assert dict(zip(speakers.index, splits._PARTS[candidates[i]], strict=True)) == candidate
        score = _reference_distance(frame, frame["speaker"].map(candidate), [target, *covariates])
        assert scores[i] == score
        if best is None or score < best[0]:
            best = (score, candidate)
    assert best is not None and chosen == best[1]


@pytest.mark.parametrize("stratify", [[], ["gender"], ["gender", "region"]], ids=str)
@pytest.mark.parametrize("mixed_labels", [False, True], ids=["single-label", "mixed-labels"])
def test_stratified_split_is_the_reference(stratify, mixed_labels):
    frame = _corpus(40, 3, seed=2, mixed_labels=mixed_labels, missing=True)
    speakers = splits._speaker_table(frame, "emotion", "classification")
    for seed in range(5):
        assert (splits._stratified(speakers, stratify, 0.2, 0.15, seed)
                == _reference_stratified(speakers, stratify, 0.2, 0.15, seed))


def test_balanced_split_of_hundreds_of_speakers():
    """300 speakers: candidates are scored with matrix products (pandas per candidate took ~8 s)."""
    frame = _corpus(300, 40)
    speakers = splits._speaker_table(frame, "emotion", "classification")
    chosen = splits._balanced(frame, speakers, "emotion", ["gender", "age"],
                              SimpleNamespace(test_size=0.2, dev_size=0.1), 0)
    assert pd.Series(chosen).value_counts().to_dict() == {"train": 210, "test": 60, "dev": 30}


# --- identical audio in more than one split ---------------------------------------------------------


def _write(path, content: bytes) -> str:
    path.write_bytes(content)
    return str(path)


@pytest.fixture
def opened(monkeypatch):
    """The files nk.splits hashes (nk.fsutil's open, recorded)."""
    paths: list[str] = []

    def recording(file, *args, **kwargs):
        paths.append(str(file))
        return open(file, *args, **kwargs)

    from nk import fsutil

    monkeypatch.setattr(fsutil, "open", recording, raising=False)
    return paths


def test_duplicate_audio_hashes_only_size_groups_spanning_splits(tmp_path, nk_context, opened, caplog):
    mib = 1 << 20
    rng = np.random.default_rng(0)
    big = rng.bytes(2 * mib + 17)  # over two read blocks
    files = {
        _write(tmp_path / "a.wav", big): "train",
        _write(tmp_path / "a_copy.wav", big): "test",  # the leak
        _write(tmp_path / "b.wav", big[:-1] + b"x"): "dev",  # same size, differs in the last block
        _write(tmp_path / "c.wav", b"c" * 100): "train",  # equal size, both in train: not read
        _write(tmp_path / "c_copy.wav", b"c" * 100): "train",
        _write(tmp_path / "d.wav", b"d" * 50): "test",  # unique size: not read
    }
    frame = pd.DataFrame({"speaker": "s"}, index=pd.Index(list(files), name="file"))
    fold = Fold("split", pd.Series(list(files.values()), index=frame.index))
    with caplog.at_level(logging.WARNING, logger=nk_context.log.name):
        found = splits.duplicate_audio(frame, fold, nk_context.log)
    a, a_copy, b = (str(tmp_path / name) for name in ("a.wav", "a_copy.wav", "b.wav"))
    assert sorted(opened) == [a, a_copy, b]
    assert found == [[a, a_copy]] and nk_context.stash == {}  # a return value, not the plugins' stash
    assert f"Identical audio in more than one split (1 groups): {a} (train) = {a_copy} (test)" in caplog.text


def test_duplicates_within_one_split_are_not_reported(tmp_path, nk_context, opened):
    files = [_write(tmp_path / f"{i}.wav", b"same") for i in range(3)]
    frame = pd.DataFrame({"speaker": "s"}, index=pd.Index(files, name="file"))
    found = splits.duplicate_audio(frame, Fold("split", pd.Series("train", index=frame.index)), nk_context.log)
    assert opened == [] and found == []


def test_file_hash_reads_blocks(tmp_path):
    import hashlib

    from nk.fsutil import sha256_file

    content = np.random.default_rng(1).bytes((1 << 20) * 2 + 17)  # three read blocks
    path = _write(tmp_path / "x.wav", content)
    assert sha256_file(path) == hashlib.sha256(content).hexdigest()
