"""Bad input, tried as a new user would (issue 10, item 4): every ordinary mistake ends in one
paragraph that names the fix, exit code 2, no traceback, nothing silently accepted.

Runs call ``nk.cli.main`` in-process (fast) in an empty folder, on a small CSV corpus of
synthetic tones; a case is a row of a table with a readable id.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nk.testing.audio import write_tone

FAST = ["feats=mfcc", "n_jobs=1", "bootstrap.n_resamples=100", "document.pdf=never"]
DEMO = ["data.demo.n_utterances=2", *FAST]
CSV = ["data=csv", "data.csv.path=corpus.csv", "target=emotion", *FAST]


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 speakers × 4 half-second tones; labels NA / 01 / 02 (strings a CSV reader must keep)."""
    root = tmp_path_factory.mktemp("audio")
    for s in range(8):
        for u in range(4):
            write_tone(root / "audio" / f"s{s}_{u}.wav", f0=110 + 40 * (u % 3) + 7 * s, seconds=0.5,
                       seed=10 * s + u)
    return root


def rows(audio_dir: Path) -> list[dict[str, object]]:
    return [{"file": f"audio/s{s}_{u}.wav", "emotion": ["NA", "01", "02"][u % 3], "speaker": f"spk{s}",
             "gender": "female" if s % 2 else "male", "age": 20 + 5 * s}
            for s in range(8) for u in range(4)]


@pytest.fixture
def work(tmp_path: Path, audio_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder to run nk in, with the audio linked in and a good corpus.csv."""
    (tmp_path / "audio").symlink_to(audio_dir / "audio")
    pd.DataFrame(rows(audio_dir)).to_csv(tmp_path / "corpus.csv", index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(audio_dir / "cache"))  # shared: features extracted once
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


@pytest.fixture(scope="module")
def pm():
    from nk.plugins import PluginManager

    return PluginManager()


@pytest.fixture
def nkrun(work: Path, pm, capsys: pytest.CaptureFixture[str]):
    """Run ``nk ARGS`` in-process in ``work``; returns (exit code, stdout + stderr, one line)."""
    import nk.cli

    def run(*args: str, plugins=None) -> tuple[int, str]:
        rc = nk.cli.main(list(args), pm=plugins or pm)
        out = capsys.readouterr()
        return rc, " ".join((out.out + out.err).split())

    return run


def check_user_error(rc: int, text: str, expected: list[str], absent: tuple[str, ...] = ()) -> None:
    assert rc == 2, text
    assert "Traceback" not in text
    for part in expected:
        assert part in text, text
    for part in absent:
        assert part not in text, text


# --- mistakes found when the config is composed ----------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["seed=-1"], ["seed=-1 is not a non-negative integer", "config key seed"], id="negative-seed"),
    pytest.param(["data.demo.seed=-3"], ["data.demo.seed=-3", "non-negative"], id="negative-demo-seed"),
    pytest.param(["labels=[]"], ["labels=[] keeps no class", "labels=null"], id="empty-labels"),
    pytest.param(["model.C=${oc.env:NK_TEST_UNSET_VAR}"],
                 ["model.C", "NK_TEST_UNSET_VAR", "export NK_TEST_UNSET_VAR", "${oc.env:NK_TEST_UNSET_VAR,DEFAULT}"],
                 id="unset-env-interpolation"),
    pytest.param(["+seeed=3"], ["no config key 'seeed'", "did you mean seed?"], id="plus-unknown-top-key"),
    pytest.param(["+split.test_sise=0.5"], ["'split.test_sise'", "did you mean split.test_size?"],
                 id="plus-unknown-split-key"),
    pytest.param(["+bootstrap.level2=0.9"], ["'bootstrap.level2'", "keys of bootstrap"], id="plus-unknown-section-key"),
    pytest.param(["task=regression", "target=age", "bins.quantiles=3"],
                 ["bins turn the target into classes", "task=regression"], id="bins-with-regression"),
    pytest.param(["task=regression", "target=age", "labels=[a]"], ["labels= keeps classes"],
                 id="labels-with-regression"),
    pytest.param(["name=../x"], ["'../x' is not a plain folder name", "results_root=FOLDER"], id="name-parent"),
    pytest.param(["name=a/b"], ["'a/b' is not a plain folder name"], id="name-subfolder"),
    pytest.param(["results_root=afile"], ["results_root='afile' must be a folder", "regular file"],
                 id="results-root-is-file"),
    pytest.param(["cache_dir=afile/sub"], ["cache_dir='afile/sub' must be a folder", "'afile' is a regular file"],
                 id="cache-dir-below-file"),
    pytest.param(["data.csv.path=x.csv"], ["data 'csv' is not selected", "data=csv"], id="forgot-data-csv"),
    pytest.param(["feats.mfcc.n_mfcc=5"], ["feats 'mfcc' is not selected", "feats=mfcc"], id="forgot-feats"),
    pytest.param(["data.nodb.path=x.csv"], ["data 'nodb', which does not exist", "csv"], id="unknown-db-key"),
    pytest.param(["data=csv", "data.csv.path=a,b.csv"], ["contains a comma", "\"data.csv.path='a,b.csv'\""],
                 id="comma-in-path"),
    pytest.param(["experiment=broken"], ["conf/experiment/broken.yaml", "line 3", "not valid YAML"],
                 id="yaml-syntax-error"),
])
def test_config_mistakes(nkrun, work, args, expected):
    (work / "afile").write_text("x")
    (work / "conf" / "experiment").mkdir(parents=True)
    (work / "conf" / "experiment" / "broken.yaml").write_text("name: q\nmodel: [a\n  b: c\n")
    rc, text = nkrun("run", "--cfg", *args)
    check_user_error(rc, text, expected)
    assert not (work / "results").exists()  # nothing written


@pytest.mark.parametrize("command", [
    pytest.param(["run", "--cfg", "feats=praat"], id="select"),
    pytest.param(["run", "--cfg", "feats.praat.pitch_floor=60"], id="parameter"),
    pytest.param(["plugins", "praat"], id="plugins"),
])
def test_blocked_plugin_is_named(nkrun, command):
    from importlib.metadata import entry_points

    from nk.plugins import PluginManager

    if "praat" not in {ep.name for ep in entry_points(group="nk")}:
        pytest.skip("nk-praat is not installed")
    rc, text = nkrun(*command, plugins=PluginManager(blocked=["praat"]))
    check_user_error(rc, text, ["blocked by NK_BLOCK_PLUGINS=praat", "remove it from NK_BLOCK_PLUGINS"])


# --- mistakes in the data ----------------------------------------------------------------------

def _write(work: Path, name: str, text: str) -> None:
    (work / name).write_text(text)


def variant(kind: str, work: Path, audio_dir: Path) -> list[str]:
    """Write the data of one bad-input case; returns the extra overrides."""
    table = pd.DataFrame(rows(audio_dir))
    if kind == "semicolon":
        table.to_csv(work / "corpus.csv", index=False, sep=";")
    elif kind == "spaces":
        _write(work, "corpus.csv", "file, emotion, speaker\n" + "".join(
            f"{r.file}, {r.emotion}, {r.speaker}\n" for r in table.itertuples()))
    elif kind == "duplicate-column":
        _write(work, "corpus.csv", "file,emotion,file\n" + "".join(
            f"{r.file},{r.emotion},{r.file}\n" for r in table.itertuples()))
    elif kind == "backslashes":
        table.assign(file=table.file.str.replace("/", "\\")).to_csv(work / "corpus.csv", index=False)
    elif kind == "split-validation":
        table.assign(split=["validation" if i % 4 == 0 else "train" for i in range(len(table))]).to_csv(
            work / "corpus.csv", index=False)
        return ["split.method=given"]
    elif kind in ("symlink", "hardlink"):
        link = work / "extra" / "same.wav"
        link.parent.mkdir()
        source = audio_dir / "audio" / "s0_0.wav"
        link.symlink_to(source) if kind == "symlink" else os.link(source, link)
        extra = pd.DataFrame([{"file": "extra/same.wav", "emotion": "02", "speaker": "spk0", "gender": "male",
                               "age": 20}])
        pd.concat([table, extra]).to_csv(work / "corpus.csv", index=False)
    elif kind.startswith("segment-"):
        start, end = {"segment-after-end": (5.0, 6.0), "segment-reversed": (0.4, 0.1),
                      "segment-negative": (-1.0, 0.2)}[kind]
        seg = table.assign(start=0.0, end=0.4)
        seg.loc[3, ["start", "end"]] = [start, end]
        seg.to_csv(work / "corpus.csv", index=False)
    elif kind in ("directory", "symlink-loop"):
        bad = work / "bad"
        if kind == "directory":
            bad.mkdir()
        else:
            (work / "loop_a").symlink_to(work / "loop_b")
            bad.symlink_to(work / "loop_a")
            (work / "loop_b").symlink_to(work / "loop_a")
        table.loc[0, "file"] = "bad"
        table.to_csv(work / "corpus.csv", index=False)
    elif kind == "csv-is-directory":
        (work / "corpus.csv").unlink()
        (work / "corpus.csv").mkdir()
    elif kind == "age-na":
        table.assign(age=table.age.astype(str).where(table.index != 5, "NA")).to_csv(work / "corpus.csv", index=False)
    elif kind == "all-missing":
        table.assign(file="nowhere/" + table.file).to_csv(work / "corpus.csv", index=False)
    return []


@pytest.mark.parametrize(("kind", "args", "expected", "absent"), [
    pytest.param("semicolon", [], ["looks ';'-separated", "\"data.csv.separator=';'\""], (), id="semicolon-csv"),
    pytest.param("spaces", [], ["spaces around them: ' emotion', ' speaker'", "'file,emotion'"], (),
                 id="header-spaces"),
    pytest.param("duplicate-column", [], ["repeated column names: ['file']"], (), id="duplicate-file-column"),
    pytest.param("backslashes", [], ["32 of 32 file paths contain backslashes", "Linux and macOS", "with '/'"],
                 ("s1_0.wav",), id="windows-paths-one-line"),
    pytest.param("all-missing", [], ["None of the 32 audio files exists", "does not exist"], ("s1_0.wav",),
                 id="all-files-missing-one-line"),
    pytest.param("split-validation", [], ["'validation' (8 rows)", "validation → dev", "train, dev, test"], (),
                 id="split-validation"),
    pytest.param("symlink", [], ["listed under more than one path", "s0_0.wav = ", "same.wav"], (), id="symlink-twice"),
    pytest.param("hardlink", [], ["listed under more than one path"], (), id="hardlink-twice"),
    pytest.param("segment-after-end", [], ["starts at or after the file's end", "audio.bad_files=skip"], (),
                 id="segment-after-end"),
    pytest.param("segment-reversed", [], ["end is not after start"], (), id="segment-start-after-end"),
    pytest.param("segment-negative", [], ["negative start"], (), id="segment-negative-start"),
    pytest.param("directory", [], ["bad: a folder, not a file"], (), id="directory-as-audio"),
    pytest.param("symlink-loop", [], ["bad: symbolic link loop"], (), id="symlink-loop-as-audio"),
    pytest.param("csv-is-directory", [], ["cannot be read: a folder, not a file", "config key data.csv.path"],
                 ("<db>",), id="csv-is-directory"),
    pytest.param("none", ["data.csv.path=missing.csv"], ["'missing.csv' cannot be read: not found",
                                                         "config key data.csv.path"], ("<db>",),
                 id="real-key-not-placeholder"),
    pytest.param("age-na", ["target=age", "model=svr"], ["non-numeric values, e.g. ['NA']",
                                                          "only an empty cell counts as missing"], (),
                 id="NA-in-numeric-target"),
    pytest.param("none", ["labels=[zz]"], ["labels lists ['zz']", "data.csv.label_map"], ("<db>",),
                 id="labels-todo-real-key"),
    pytest.param("none", ["data.csv.role=test", "split.method=loso"], ["config key data.csv.role"], ("<db>",),
                 id="role-cv-real-key"),
    pytest.param("none", ["split.stratify=[gendr]"], ["split.stratify names columns", "['gendr']", "'gender'"], (),
                 id="unknown-stratify-column"),
    pytest.param("none", ["split.method=balanced", "split.balance_on=[agee]"], ["split.balance_on", "['agee']"], (),
                 id="unknown-balance-column"),
    pytest.param("none", ["target=age", "model=svr", "labels=[a]"], ["labels= keeps classes", "regressed"], (),
                 id="labels-with-auto-regression"),
    pytest.param("none", ["target=speaker"], ["names the speaker", "split.method=random"],
                 ("use more speakers, another seed, or split.method=balanced",), id="speaker-target-advice"),
])
def test_data_mistakes(nkrun, work, audio_dir, kind, args, expected, absent):
    extra = variant(kind, work, audio_dir)
    rc, text = nkrun("run", *CSV, *extra, *args)
    check_user_error(rc, text, expected, absent)
    assert len(text) < 1500, text  # one paragraph, not a list of 30 paths


def test_numeric_target_with_classifier_says_model_svr(nkrun):
    rc, text = nkrun("run", *DEMO, "target=age")  # 12 speakers: 12 ages, a continuous target
    check_user_error(rc, text, ["'age' is numeric with 12 distinct values", "model svm classifies", "model=svr"])


def test_unprepared_polish_mentions_prepare(nkrun):
    rc, text = nkrun("run", "experiment=polish", *FAST)
    check_user_error(rc, text, ["nk data prepare polish", "config key data.polish.path"], ("<db>",))


# --- what used to be silently wrong ------------------------------------------------------------

def test_csv_keeps_na_and_zero_padded_labels_as_text(work):
    from nk.builtin.loaders import CsvLoader

    corpus = CsvLoader(path="corpus.csv", root=None, file_column="file", start_column="start",
                       end_column="end", separator=",").load(None)  # type: ignore[arg-type]
    assert sorted(corpus.frame["emotion"].unique()) == ["01", "02", "NA"]
    assert pd.api.types.is_numeric_dtype(corpus.frame["age"])  # numbers are still numbers
    assert not corpus.frame.isna().any().any()


def test_csv_empty_cell_is_missing_and_separator_names(work, audio_dir):
    from nk.builtin.loaders import CsvLoader

    table = pd.DataFrame(rows(audio_dir))
    table.loc[0, "emotion"] = ""
    table.to_csv(work / "corpus.tsv", index=False, sep="\t")
    corpus = CsvLoader(path="corpus.tsv", root=None, file_column="file", start_column="start",
                       end_column="end", separator="tab").load(None)  # type: ignore[arg-type]
    assert corpus.frame["emotion"].isna().sum() == 1


def test_na_class_survives_a_run(nkrun, work):
    rc, text = nkrun("run", *CSV, "results_root=res", "name=na")
    assert rc == 0, text
    (run_dir,) = (work / "res" / "na").iterdir()
    labels = json.loads((run_dir / "results.json").read_text())["data"]["labels"]
    assert {"NA", "01", "02"} <= set(next(iter(labels.values())))


def test_filters_are_reported_on_the_console(nkrun):
    rc, text = nkrun("run", *CSV, "filter.max_per_speaker=3")
    assert rc == 0, text
    assert "Filter max_per_speaker=3: removed 8 of 32 rows, 24 left" in text


def test_pinned_sampling_rate_is_said(nkrun):
    rc, text = nkrun("run", *CSV, "sampling_rate=8000")
    assert rc == 0, text
    assert "mfcc reads audio at its own rate, 16000 Hz" in text and "sampling_rate=8000" in text


def test_skip_leaves_bad_segments_out_and_lists_them(nkrun, work, audio_dir):
    variant("segment-negative", work, audio_dir)
    rc, text = nkrun("run", *CSV, "audio.bad_files=skip", "results_root=res", "name=skip")
    assert rc == 0, text
    (run_dir,) = (work / "res" / "skip").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    skipped = json.dumps(results)
    assert "negative start" in skipped


# --- failed runs and the file system ----------------------------------------------------------

def test_failed_run_is_marked(nkrun, work):
    rc, text = nkrun("run", *CSV, "target=nope", "results_root=res", "name=f")
    check_user_error(rc, text, ["'nope' is not in the data"])
    (run_dir,) = (work / "res" / "f").iterdir()
    marker = (run_dir / "FAILED").read_text()
    assert "holds no results" in marker and "'nope' is not in the data" in marker
    from nk.results import is_failed

    assert is_failed(run_dir)
    rc, text = nkrun("run", *CSV, "results_root=res", "name=ok")
    assert rc == 0, text
    (ok_dir,) = (work / "res" / "ok").iterdir()
    assert not is_failed(ok_dir) and (ok_dir / "results.json").exists()


def test_full_disk_leaves_no_empty_config_and_no_traceback(nkrun, work, monkeypatch):
    import nk.paths

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(nk.paths.os, "fsync", full)
    rc, text = nkrun("run", *CSV, "results_root=res", "name=full")
    check_user_error(rc, text, ["No space left on device", "ENOSPC", "free space"])
    (run_dir,) = (work / "res" / "full").iterdir()
    assert not (run_dir / "config.yaml").exists()  # not a 0-byte file
    assert [p.name for p in run_dir.iterdir() if p.stat().st_size == 0] == []


@pytest.mark.skipif(not Path("/sys").is_dir(),
                    reason="needs a protected /sys (Linux)")
def test_protected_results_folder_is_one_paragraph(nkrun):
    try:
        os.mkdir("/sys/nk-test-probe")
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EACCES, errno.EROFS):
            pytest.skip(f"/sys refuses with {exc.errno}")
    else:
        os.rmdir("/sys/nk-test-probe")
        pytest.skip("/sys is writable here")
    rc, text = nkrun("run", *CSV, "results_root=/sys/nk-results")
    check_user_error(rc, text, ["/sys/nk-results", "choose another path"])


@pytest.mark.parametrize(("code", "expected"), [
    pytest.param(errno.ENOSPC, ["No space left", "results_root=", "cache_dir="], id="ENOSPC"),
    pytest.param(errno.EDQUOT, ["quota"], id="EDQUOT"),
    pytest.param(errno.EACCES, ["for user", "chmod"], id="EACCES"),
    pytest.param(errno.EPERM, ["immutable"], id="EPERM"),
    pytest.param(errno.EROFS, ["read-only"], id="EROFS"),
    pytest.param(errno.ENOTDIR, ["regular file, not a folder"], id="ENOTDIR"),
    pytest.param(errno.ELOOP, ["points", "back to itself"], id="ELOOP"),
])
def test_os_errors_become_user_errors(code, expected):
    from nk.paths import os_error

    err = os_error(OSError(code, os.strerror(code), "/data/x"), doing="writing the run folder")
    assert err is not None
    for part in ["Writing the run folder failed on '/data/x'", errno.errorcode[code], *expected]:
        assert part in err.message, err.message


def test_other_os_errors_stay_bugs():
    from nk.paths import os_error

    assert os_error(OSError(errno.EBADF, "Bad file descriptor")) is None


NOBODY = shutil.which("setpriv") is not None and os.geteuid() == 0


@pytest.mark.skipif(not NOBODY and os.geteuid() == 0, reason="needs setpriv to drop root")
def test_permission_denied_names_the_user(tmp_path):
    """As a user who may not read the file (root drops to nobody with setpriv)."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"nk-perm-{os.getpid()}"
    folder.mkdir(mode=0o755, exist_ok=True)
    try:
        secret = write_tone(folder / "locked.wav", seconds=0.2)
        secret.chmod(0o000)
        closed = folder / "closed"
        closed.mkdir(mode=0o700)
        code = ("from nk.corpus import _probe; from nk.builtin.loaders import CsvLoader\n"
                f"print(_probe({str(secret)!r}, 0.0)[1])\n"
                f"print(_probe({str(closed / 'a.wav')!r}, 0.0)[1])\n"
                "try:\n"
                f"    CsvLoader(path={str(closed / 'c.csv')!r}, root=None, file_column='file', start_column='s',"
                " end_column='e', separator=',').load(None)\n"
                "except Exception as e: print(e)\n")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if NOBODY else []
        out = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=folder, timeout=120)
        lines = out.stdout.splitlines()
        assert len(lines) == 3, out.stdout + out.stderr
        assert lines[0].startswith("permission denied: not readable by user"), lines
        assert lines[1].startswith("permission denied for user"), lines
        assert "cannot be read: permission denied for user" in lines[2], lines
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- help and tables ----------------------------------------------------------------------------

@pytest.mark.parametrize("component", ["mfcc", "svm", "egemaps"])
def test_plugin_table_keeps_parameter_names_whole_at_80_columns(nkrun, monkeypatch, capsys, pm, component):
    import nk.cli

    if component not in {c.name for c in pm.registry}:
        pytest.skip(f"{component} is not installed")
    monkeypatch.setenv("COLUMNS", "80")
    assert nk.cli.main(["plugins", component], pm=pm) == 0
    out = capsys.readouterr().out
    comp = next(c for c in pm.registry if c.name == component)
    for p in comp.params():
        assert f"{comp.path}.{p.name}" in out, out
    assert "…" not in out


def test_cache_ls_never_cuts_parameters(nkrun, monkeypatch, capsys, pm):
    import nk.cli

    assert nkrun("run", *CSV)[0] == 0
    assert nkrun("run", *CSV, "feats.mfcc.n_mels=30")[0] == 0
    for columns in ("80", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        assert nk.cli.main(["cache", "ls"], pm=pm) == 0
        out = capsys.readouterr().out
        assert "…" not in out
        assert "n_mels=30" in out and "n_mels=40" in out, out


def test_run_help_shows_own_data_and_where_the_docs_are(capsys, pm):
    import nk.cli

    with pytest.raises(SystemExit):
        nk.cli.main(["run", "--help"], pm=pm)
    out = capsys.readouterr().out
    assert "data=csv data.csv.path=my_corpus.csv" in out and "FAILED" in out
    docs = out.split("Docs: ", 1)[1].split(" (")[0].strip()
    assert Path(docs).is_file() and Path(docs).name == "README.md", docs


def test_loading_a_failed_runs_model_says_it_failed(nkrun, work):
    from nk.errors import UserError
    from nk.results import load_model

    rc, _ = nkrun("run", *CSV, "target=nope", "results_root=res", "name=f")
    assert rc == 2
    (run_dir,) = (work / "res" / "f").iterdir()
    with pytest.raises(UserError, match=r"failed run, with no model.*'nope' is not in the data"):
        load_model(run_dir / "model")
