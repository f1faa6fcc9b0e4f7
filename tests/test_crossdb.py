"""`nk crossdb` on three synthetic databases, and `nk spotlight`'s frame (the viewer replaced)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nk.cli import main
from nk.testing import write_tiny_corpus

COMMON = ["target=label", "feats=mfcc", "n_jobs=1", "split.test_size=0.5", "split.dev_size=0",
          "document.pdf=never", "bootstrap.n_resamples=200"]


@pytest.fixture
def three_databases(tmp_path, monkeypatch):
    """Databases a, b, c (4 speakers each, named spk0…spk3 in every one of them) with presets."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "conf" / "data").mkdir(parents=True)
    for name in ("a", "b", "c"):
        frame = write_tiny_corpus(tmp_path / name, n_speakers=4, n_per_class=2, seconds=0.3)
        frame.to_csv(tmp_path / f"{name}.csv")
        (tmp_path / "conf" / "data" / f"{name}.yaml").write_text(f"defaults:\n  - csv@{name}\n\n{name}:\n  path: {name}.csv\n")
    return tmp_path


def test_crossdb_writes_the_matrix_and_the_leave_one_out_row(three_databases, nk_pm, capsys):
    tmp = three_databases
    code = main(["crossdb", "data=[a,b,c]", *COMMON, f"results_root={tmp / 'r'}"], pm=nk_pm)
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "impossible by construction" in out
    (run,) = (tmp / "r").glob("a+b+c/*-crossdb")
    matrix = pd.read_csv(run / "matrix.csv", index_col=0)
    assert list(matrix.columns) == ["a", "b", "c"]
    assert list(matrix.index) == ["a", "b", "c", "all but a", "all but b", "all but c"]
    assert matrix.loc[["a", "b", "c"]].notna().all().all()
    lodo = matrix.loc[["all but a", "all but b", "all but c"]].to_numpy()
    assert np.isfinite(np.diag(lodo)).all() and np.isnan(lodo[~np.eye(3, dtype=bool)]).all()
    cells = pd.read_csv(run / "crossdb.csv")
    assert len(cells) == 12 and set(cells.kind) == {"within", "cross", "lodo"}
    assert ((cells.ci_low <= cells.value) & (cells.value <= cells.ci_high)).all()
    # the diagonal tests its own test split (half the speakers), the others every row
    within = cells[cells.kind == "within"]
    assert (within.n_test == 8).all() and (cells[cells.kind != "within"].n_test == 16).all()
    assert (cells[cells.kind == "lodo"].n_train == 32).all()  # two databases, train + test rows
    result = json.loads((run / "crossdb.json").read_text())
    assert result["speaker_overlap"].startswith("impossible by construction")
    assert {"heatmap.png", "report.html", "report.tex", "matrix.csv"} <= set(result["artefacts"])
    assert (run / "heatmap.png").stat().st_size > 1000
    html = (run / "report.html").read_text()
    assert "Speaker overlap between databases is impossible by construction" in html
    assert "all but b" in html

    # the features came from the shared cache: a second experiment extracts nothing
    assert main(["crossdb", "data=[a,b,c]", *COMMON, "crossdb.mode=lodo", f"results_root={tmp / 'r'}"],
                pm=nk_pm) == 0
    second = max((tmp / "r").glob("a+b+c/*-crossdb*"), key=lambda p: p.stat().st_mtime_ns)
    log = (second / "nk.log").read_text()
    assert "mfcc: 48 rows from the cache" in log
    assert len(pd.read_csv(second / "crossdb.csv")) == 3


def test_speaker_ids_are_prefixed_with_the_database():
    from nk.crossdb.run import prefix_speakers

    frame = pd.DataFrame({"db": ["a", "b", "b"], "speaker": ["spk0", "spk0", None]},
                         index=pd.Index(["/x/1.wav", "/y/1.wav", "/y/2.wav"], name="file"))
    out = prefix_speakers(frame)
    assert out.speaker.tolist()[:2] == ["a:spk0", "b:spk0"] and pd.isna(out.speaker.iloc[2])


def test_crossdb_needs_two_databases_and_a_plain_split(three_databases, nk_pm, capsys):
    assert main(["crossdb", "data=[a]", *COMMON], pm=nk_pm) == 2
    assert "needs at least two databases" in capsys.readouterr().err
    assert main(["crossdb", "data=[a,b]", *COMMON, "split.method=loso", f"results_root={three_databases / 'r'}"],
                pm=nk_pm) == 2
    assert "splits each database once" in capsys.readouterr().err


def test_crossdb_section_is_checked(three_databases, nk_pm, capsys):
    assert main(["crossdb", "data=[a,b]", "crossdb.mode=diagonal", "--cfg"], pm=nk_pm) == 2
    err = capsys.readouterr().err
    assert "crossdb.mode" in err and "lodo" in err


def test_spotlight_gets_audio_labels_predictions_and_features(three_databases, nk_pm, monkeypatch, capsys):
    import nk.spotlight as spot

    tmp = three_databases
    assert main(["run", "data=a", *COMMON, f"results_root={tmp / 'r'}"], pm=nk_pm) == 0
    (run,) = (tmp / "r").glob("a/*/predictions.csv")
    shown = {}

    def fake_viewer(frame, dtypes, *, host, port):
        shown.update(frame=frame, dtypes=dtypes, host=host, port=port)

    monkeypatch.setattr(spot, "check_viewer", lambda: None)
    monkeypatch.setattr(spot, "start_viewer", fake_viewer)
    code = main(["spotlight", "data=a", "target=label", "feats=mfcc", "n_jobs=1", f"results_root={tmp / 'r'}",
                 f"spotlight.run={run.parent}", "spotlight.port=8123"], pm=nk_pm)
    assert code == 0, capsys.readouterr().err
    frame = shown["frame"]
    assert shown["host"] == "127.0.0.1" and shown["port"] == 8123
    assert shown["dtypes"] == {"audio": "audio", "features": "embedding"}
    assert len(frame) == 16 and frame.columns[0] == "audio"
    assert {"label", "speaker", "gender", "db", "pred", "proba.high", "proba.low", "features"} <= set(frame.columns)
    assert "_role" not in frame.columns and "truth" not in frame.columns
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frame.audio)
    assert frame.pred.notna().sum() == 8  # the run's test rows
    assert pd.api.types.is_string_dtype(frame.label) and frame["proba.high"].dtype == float
    vectors = np.stack(frame.features.to_numpy())
    assert vectors.dtype == np.float32 and vectors.shape[0] == 16 and np.isfinite(vectors).all()


def test_spotlight_without_the_extra_says_how_to_install(three_databases, nk_pm, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("renumics") else real(name, *a))
    assert main(["spotlight", "data=a", "target=label"], pm=nk_pm) == 2
    assert "pip install 'nk[spotlight]'" in capsys.readouterr().err


def test_each_model_sees_dev_only_from_its_training_databases(three_databases, nk_pm, monkeypatch, capsys):
    from nk import fit

    seen = {}
    real = fit.fit_fold

    def spy(ctx, fold, frame, *args, **kwargs):
        seen[fold.name] = pd.DataFrame({"split": fold.split, "db": frame["db"], "speaker": frame["speaker"]})
        return real(ctx, fold, frame, *args, **kwargs)

    monkeypatch.setattr(fit, "fit_fold", spy)
    options = [o for o in COMMON if not o.startswith("split.")]
    code = main(["crossdb", "data=[a,b,c]", *options, "split.test_size=0.25", "split.dev_size=0.25",
                 f"results_root={three_databases / 'r'}"], pm=nk_pm)
    assert code == 0, capsys.readouterr().err
    assert sorted(seen) == ["a", "all but a", "all but b", "all but c", "b", "c"]
    for name, split in seen.items():
        if name.startswith("all but "):
            held_out = name.removeprefix("all but ")
            assert (split[split.db == held_out].split == "test").all()
            assert set(split[split.split == "dev"].db) == {"a", "b", "c"} - {held_out}
        else:
            assert (split[split.db != name].split == "test").all()
            own = split[split.db == name]
            assert set(own.split) == {"train", "dev", "test"}
            parts = [set(own[own.split == p].speaker) for p in ("train", "dev", "test")]
            assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert split.speaker.str.match(r"^[abc]:spk\d$").all()  # prefixed: a:spk0 is not b:spk0
