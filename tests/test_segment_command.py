"""`nk segment` with any segmenter (a fake one here; silero's are in plugins/nk-silero), unlabelled
data, and random splits of segments."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nk import hookimpl
from nk.cli import main
from nk.testing import write_tone


@dataclass
class NoParams:
    """No parameters."""


class FirstSecond:
    """Speech at 0.2–0.5 s and 0.7–0.9 s of every file but the silent ones (names with 'silent')."""

    def segment(self, frame, ctx):
        rows, spans = [], []
        for position, file in enumerate(frame.index):
            if "silent" in file:
                continue
            for s, e in ((0.2, 0.5), (0.7, 0.9)):
                rows.append(position)
                spans.append((file, s, e))
        out = frame.iloc[rows].copy()
        out.index = pd.MultiIndex.from_arrays(
            [[f for f, _, _ in spans], pd.to_timedelta([s for _, s, _ in spans], unit="s"),
             pd.to_timedelta([e for _, _, e in spans], unit="s")], names=["file", "start", "end"])
        return out


class Plugin:
    @hookimpl
    def nk_register_segmenters(self, register):
        register("first_second", FirstSecond, NoParams, description="two fixed segments per file")


def test_nk_segment_writes_tables_for_unlabelled_recordings(nk_pm, nk_register_plugin, nk_compose, tmp_path,
                                                            capsys):
    nk_register_plugin(Plugin(), name="nk-fake-seg")
    nk_compose([])
    for name in ("a", "b", "silent"):
        write_tone(tmp_path / f"{name}.wav", seconds=1.0)
    table = tmp_path / "recordings.csv"
    table.write_text("file,room\na.wav,r1\nb.wav,r2\nsilent.wav,r3\n")  # no target column
    args = ["segment", "data=csv", f"data.csv.path={table}", f"results_root={tmp_path / 'res'}"]
    assert main(args, pm=nk_pm) == 2
    assert "needs a segmenter" in capsys.readouterr().err
    assert main([*args, "segment=first_second"], pm=nk_pm) == 0
    (run,) = (tmp_path / "res").glob("*/*-segment")
    segments = pd.read_csv(run / "segments.csv")
    assert list(segments.columns) == ["file", "start", "end", "room", "db"]
    assert list(segments["start"]) == [0.2, 0.7, 0.2, 0.7] and list(segments["room"]) == ["r1", "r1", "r2", "r2"]
    files = pd.read_csv(run / "files.csv")
    assert list(files["segments"]) == [2, 2, 0]
    assert np.allclose(files["speech_ratio"], [0.5, 0.5, 0.0])
    silences = pd.read_csv(run / "silences.csv")
    assert list(silences[silences["file"].str.endswith("a.wav")]["duration"]) == [0.2, 0.2, 0.1]
    assert silences[silences["file"].str.endswith("silent.wav")]["duration"].tolist() == [1.0]
    totals = json.loads((run / "segment.json").read_text())["totals"]
    assert totals == {"files": 3, "segments": 4, "files_without_speech": 1, "duration_s": 3.0,
                      "speech_s": 1.0, "speech_ratio": 0.3333}
    assert "4 segments in 3 files (1 without speech)" in capsys.readouterr().out
    # a bad option of the command's own section is a user error
    assert main([*args, "segment=first_second", "segmentation.bins=0"], pm=nk_pm) == 2
    assert "segmentation.bins" in capsys.readouterr().err


def test_random_splits_keep_the_segments_of_a_file_together():
    from nk.splits import random_split

    files = [f"/x/{i}.wav" for i in range(30) for _ in range(4)]
    index = pd.MultiIndex.from_arrays([files, pd.to_timedelta(np.tile(np.arange(4.0), 30), unit="s"),
                                       pd.to_timedelta(np.tile(np.arange(1.0, 5.0), 30), unit="s")],
                                      names=["file", "start", "end"])
    split = random_split(pd.DataFrame(index=index), 0.3, 0.2, seed=1)
    per_file = split.groupby(level="file").nunique()
    assert (per_file == 1).all() and set(split) == {"train", "dev", "test"}
