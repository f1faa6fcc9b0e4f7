"""`nk segment segment=silero` on long synthetic recordings, and training on its table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from nk.cli import main
from nk.testing import boundary_errors, frame_accuracy, write_speech_bursts


@pytest.fixture
def recordings(tmp_path):
    """Four long files, two speakers × two classes (the classes differ in pitch)."""
    rows, truth = [], {}
    for i in range(4):
        path = tmp_path / "long" / f"rec{i}.wav"
        label = "high" if i % 2 else "low"
        truth[str(path)] = write_speech_bursts(path, bursts=5, seed=10 + i,
                                               voices=((170.0, 1.15),) if i % 2 else ((110.0, 1.0),))
        rows.append({"file": f"long/rec{i}.wav", "label": label, "speaker": f"s{i // 2}"})
    table = tmp_path / "recordings.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return table, truth


def test_nk_segment_finds_the_bursts_and_nk_run_trains_on_them(nk_pm, nk_compose, recordings, tmp_path, capsys):
    nk_compose([])
    table, truth = recordings
    code = main(["segment", "data=csv", f"data.csv.path={table}", "segment=silero",
                 "segmentation.export_audio=true", "segmentation.audio_format=flac",
                 "segmentation.sampling_rate=8000", f"results_root={tmp_path / 'res'}"], pm=nk_pm)
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "res").glob("*/*-segment")
    segments = pd.read_csv(run / "segments.csv")
    assert list(segments.columns[:3]) == ["file", "start", "end"]
    assert {"label", "speaker"} <= set(segments.columns)
    for file, bursts in truth.items():
        spans = [(s, e) for s, e, _ in bursts]
        mine = segments[segments["file"] == file]
        found = list(zip(mine["start"], mine["end"], strict=True))
        assert len(found) == len(spans)
        assert frame_accuracy(spans, found, sf.info(file).duration) >= 0.95
        assert np.median(boundary_errors(spans, found)) <= 0.05
    files = pd.read_csv(run / "files.csv").set_index("file")
    assert (files["segments"] == 5).all() and files["speech_ratio"].between(0.3, 0.9).all()
    silences = pd.read_csv(run / "silences.csv")
    assert len(silences) == 4 * 6  # before, between and after five bursts
    speech = (segments["end"] - segments["start"]).sum()
    assert abs(speech + silences["duration"].sum() - files["duration_s"].sum()) < 0.01
    exported = pd.read_csv(run / "segment_files.csv")
    assert len(exported) == len(segments)
    info = sf.info(exported["file"][0])
    assert info.format == "FLAC" and info.samplerate == 8000
    assert (run / "segment_durations.png").stat().st_size > 1000
    totals = json.loads((run / "segment.json").read_text())["totals"]
    assert totals["segments"] == 20 and totals["files_without_speech"] == 0
    # the table loads with data=csv and trains
    from rich.console import Console

    from nk.pipeline import run_experiment

    cfg = nk_compose(["data=csv", f"data.csv.path={run / 'segments.csv'}", "target=label", "feats=mfcc",
                      "split.method=speaker", "split.test_size=0.5", "n_jobs=1", "report=[]"])
    out = tmp_path / "train"
    out.mkdir()
    results = run_experiment(cfg, nk_pm, out, Console(quiet=True))
    assert results["data"]["rows"]["train"] + results["data"]["rows"]["test"] == 20
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 10 and predictions["file"].nunique() == 2  # one speaker's two files


def test_nk_run_segments_before_splitting(nk_pm, nk_compose, recordings, tmp_path):
    from rich.console import Console

    from nk.pipeline import run_experiment

    table, _ = recordings
    cfg = nk_compose(["data=csv", f"data.csv.path={table}", "target=label", "segment=silero", "feats=mfcc",
                      "split.method=speaker", "split.test_size=0.5", "n_jobs=1", "report=[]"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert results["components"]["segment"] == ["silero"]
    assert sum(results["data"]["rows"].values()) == 20  # five segments from each of four files


def test_nk_run_segment_silero_evaluates_per_file(nk_pm, nk_compose, recordings, tmp_path):
    """The issue's acceptance: ``nk run segment=silero evaluate.level=file`` trains on the
    segments and scores each test recording once, from its segments' mean probability."""
    from rich.console import Console

    from nk.pipeline import run_experiment

    table, _ = recordings
    cfg = nk_compose(["data=csv", f"data.csv.path={table}", "target=label", "segment=silero", "feats=mfcc",
                      "split.method=speaker", "split.test_size=0.5", "n_jobs=1", "report=[]",
                      "evaluate.level=file"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    files = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    segments = pd.read_csv(run_dir / "predictions_segments.csv")
    assert results["test"]["n"] == len(files) == 2  # one speaker's two recordings
    assert (files["segments"] == 5).all() and len(segments) == 10
    assert results["evaluation_level"].startswith("file")
