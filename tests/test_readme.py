"""Every command of README.md runs (issue 10, item 7): a newcomer's walkthrough, in README order,
from one empty folder.

The commands are read from the README's ```bash blocks (and ``$ nk …`` lines of plain blocks,
whose next line is the documented output). Commands that need their own data get synthetic
data of the same shape (``my_corpus.csv``, ``emodb/``, ``conf/data/*.yaml``, the Polish zip).
To stay fast, runs on the demo corpus get ``data.demo.n_utterances=1`` appended (unless the
command sets it), explores render in-process (``explore.plot_jobs=1``: UMAP's numba code is
compiled once for all of them), and ``nk cache info 91be6884`` gets a key that exists. The few commands that
cannot run here are skipped with their reason, visibly.
"""

from __future__ import annotations

import re
import shlex
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from nk.testing.audio import write_tone

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP = {  # command prefix → why it cannot run inside the tests
    "make ": "starts the test suite itself (make test) or the demo it covers",
    "pip install": "installs into the environment; make installs every plugin in plugins/ already",
    ". .venv/bin/activate": "changes the interactive shell only",
}
NEEDS = {  # a part of the command → what it needs that a test here cannot have (shown as the skip reason)
    "pretrained_model=microsoft/": "a model download from the Hugging Face hub (nk-finetune's tests fine-tune a tiny local model)",
    "nk models fetch": "the Hugging Face hub (nk-transformers' tests fetch a local folder)",
    "feats=wav2vec2 model": "a model download from the Hugging Face hub (nk-transformers' tests run it with a tiny local model)",
    "feats=wavlm ": "a model download from the Hugging Face hub (nk-transformers' tests run it with a tiny local model)",
    "-m feats=wav2vec2": "a model download from the Hugging Face hub (nk-transformers' tests sweep layers of a tiny local model)",
    "predict=age": "a model download from the Hugging Face hub (nk-predict's tests use a tiny local model)",
    "device=cuda": "a GPU",
    "/path/to/": "the user's own model folder (a placeholder)",
    "./my-local-": "the user's own model folder (a placeholder)",
    "<run>": "a run folder of the user's (a placeholder)",
    "<time>": "a run folder of the user's (a placeholder)",
    "recordings.csv": "the user's own long recordings (nk-silero's and nk-diarize's tests segment synthetic ones)",
    "data.csv.path=db.csv": "the user's own table (nk-predict's tests build one with a known quality confound)",
    "nk data prepare emodb": "downloading EmoDB (the recipe tests replace the downloader)",
    "--source Audio_Speech": "the user's downloaded archive (the recipe tests build one)",
    "--source ~/": "the user's downloaded corpus (the recipe tests build one)",
    "cremad": "a prepared CREMA-D (the recipe tests build one)",
    "nk spotlight": "the Spotlight viewer, a server that waits for the browser (its tests check the data handed over)",
    "2026-01-01_10-00-00": "a run folder of the user's (a placeholder)",
    "hydra/launcher=ray": "a Ray cluster of its own (tests/test_launchers.py runs the Ray launcher on a small one)",
    "submitit_slurm": "a SLURM cluster (tests/test_launchers.py runs the same jobs with submitit_local)",
    "extract.backend=ray": "a Ray cluster of its own (tests/test_distributed.py extracts on a small one)",
    "nk run data=emodb": "a prepared EmoDB (`nk data prepare emodb` downloads it; the recipe tests prepare fake corpora)",
    "data=[emodb,ravdess] labels=": "prepared EmoDB and RAVDESS (downloads; the recipe tests combine fake ones)",
    "a.ini b.ini": "finished runs of the user's INI files (tests/test_nkululeko_ini.py ensembles two)",
    "data=[emodb,polish]": "a prepared EmoDB (a download; tests/test_crossdb.py runs crossdb on synthetic databases)",
}
PLACEHOLDER_KEY = "91be6884"


def readme_commands() -> list[tuple[str, str | None]]:
    """(command line, documented first output line or None), in README order."""
    text = README.read_text(encoding="utf-8")
    out: list[tuple[str, str | None]] = []
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M):
        lines = body.replace("\\\n", " ").splitlines() if lang == "bash" else body.splitlines()  # continuations
        for i, line in enumerate(lines):
            if lang == "bash":
                command = shlex.join(shlex.split(line, comments=True))  # keeps the shell's quoting
                if command:
                    out.append((command, None))
            elif line.startswith("$ nk "):
                documented = lines[i + 1] if i + 1 < len(lines) else None
                out.append((line[2:].strip(), documented))
    return out


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert len(COMMANDS) > 20
    assert any(c.startswith("nk run data=csv") for c, _ in COMMANDS)


def _emotions_corpus(folder: Path, table: Path, labels: list[str], *, speaker_column: str = "speaker",
                     n_speakers: int = 6, prefix: str = "s") -> pd.DataFrame:
    rows = []
    for s in range(n_speakers):
        for e, label in enumerate(labels):
            for u in range(2):
                path = folder / f"{prefix}{s}_{label}_{u}.wav"
                write_tone(path, f0=(200 if s % 2 else 110) * (1 + 0.15 * e) + 3 * u, seconds=0.4,
                           loudness=0.1 + 0.05 * e, seed=100 * s + 10 * e + u)
                rows.append({"file": str(path.relative_to(table.parent)), "emotion": label,
                             speaker_column: f"{prefix}{s}", "gender": "female" if s % 2 else "male",
                             "age": 20 + 9 * s})
    frame = pd.DataFrame(rows)
    frame.to_csv(table, index=False)
    return frame


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder plus the data the README's commands refer to."""
    import audformat

    home = tmp_path_factory.mktemp("walkthrough")
    # "Your own data": my_corpus.csv with file, emotion, speaker, gender, age
    _emotions_corpus(home / "audio", home / "my_corpus.csv", ["happy", "sad", "angry"])
    # "Coming from nkululeko": an nkululeko exp.ini on my_corpus.csv
    (home / "exp.ini").write_text(
        "[EXP]\nroot = ./results/\nname = exp_ini\n[DATA]\ndatabases = ['mine']\nmine = ./my_corpus.csv\n"
        "mine.type = csv\nmine.absolute_path = False\nmine.split_strategy = speaker_split\ntarget = emotion\n"
        "[FEATS]\ntype = ['os']\nscale = standard\n[MODEL]\ntype = svm\nC_val = 1\n[EXPL]\n"
        "value_counts = [['gender']]\n[PREDICT]\ntargets = ['snr']\n[SEGMENT]\nmethod = silero\n[AUGMENT]\n"
        "augment = ['random_splice']\n")
    # conf/data/emodb.yaml + ravdess.yaml, as in the README (paths to local synthetic tables)
    (home / "db" / "emodb").mkdir(parents=True)
    (home / "db" / "ravdess").mkdir(parents=True)
    _emotions_corpus(home / "db" / "emodb", home / "db" / "emodb" / "emodb.csv",
                     ["anger", "happiness", "neutral", "sadness"], speaker_column="speaker_id", prefix="e")
    _emotions_corpus(home / "db" / "ravdess", home / "db" / "ravdess" / "table.csv",
                     ["anger", "happiness", "calm", "sadness", "fearful"], n_speakers=4, prefix="r")
    conf = home / "conf" / "data"
    conf.mkdir(parents=True)
    (conf / "emodb.yaml").write_text(
        "defaults: [csv@emodb]\nemodb:\n  path: db/emodb/emodb.csv\n  role: train\n"
        "  rename: {speaker_id: speaker}\n")
    (conf / "ravdess.yaml").write_text(
        "defaults: [csv@ravdess]\nravdess:\n  path: db/ravdess/table.csv\n  role: test\n"
        "  label_map: {calm: neutral, fearful: fear}\n")
    # an audformat folder emodb/ (db.yaml)
    frame = _emotions_corpus(home / "emodb" / "wav", home / "emodb" / "table.csv", ["anger", "neutral"])
    (home / "emodb" / "table.csv").unlink()
    db = audformat.Database("emodb")
    db.schemes["emotion"] = audformat.Scheme(labels=["anger", "neutral"])
    db.schemes["speaker"] = audformat.Scheme("str")
    db["emotion"] = audformat.Table(audformat.filewise_index(list(frame.file)))
    db["emotion"]["emotion"] = audformat.Column(scheme_id="emotion")
    db["emotion"]["emotion"].set(list(frame.emotion))
    db["emotion"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["emotion"]["speaker"].set(list(frame.speaker))
    db.save(str(home / "emodb"))
    # the Polish corpus's zip: <speaker>.<emotion>_<word>_<repetition>.wav, speakers m1–m5
    with zipfile.ZipFile(home / "polish_speech_emotions.zip", "w") as zf:
        for s in range(1, 6):
            for e, emo in enumerate("asn"):
                for w in range(2):
                    wav = home / "tmp.wav"
                    write_tone(wav, f0=100 + 20 * e + 2 * s, seconds=0.4, seed=s * 10 + e * 3 + w)
                    zf.write(wav, f"polish/m{s}.{emo}_word{w}_1.wav")
        (home / "tmp.wav").unlink()
    return home


def _argv(command: str, cache: Path) -> list[str]:
    argv = shlex.split(command)[1:]
    if argv[:1] in (["run"], ["explore"]) and "--cfg" not in argv:
        own_data = any(a.startswith(("data=", "'data=", "experiment=", "--config")) for a in argv)
        if not own_data and not any(a.startswith("data.demo.n_utterances") for a in argv):
            argv.append("data.demo.n_utterances=1")  # the same commands, on a smaller demo corpus
    if argv[:1] == ["explore"] and "--cfg" not in argv:
        argv.append("explore.plot_jobs=1")  # in this process: numba compiles UMAP once, not per run
        argv += [o for o in ("explore.n_repeats=1", "explore.tsne_iterations=250")
                 if o.split("=")[0] not in command]
    if argv[:2] == ["cache", "info"] and argv[2:] == [PLACEHOLDER_KEY]:
        from nk.cache import FeatureCache

        entries = FeatureCache(cache).entries()
        assert entries, "nk cache info needs an entry: the runs before it should have made one"
        argv[2] = entries[0].key[:8]
    return argv


@pytest.mark.parametrize(("command", "documented"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_readme_command(command, documented, walkthrough, monkeypatch, capsys):
    for prefix, reason in SKIP.items():
        if command.startswith(prefix):
            pytest.skip(f"{reason}: {command}")
    for part, reason in NEEDS.items():
        if part in command.replace("'", ""):
            pytest.skip(f"needs {reason}: {command}")
    assert command.startswith("nk "), f"README command not covered by this test: {command}"
    import nk.cli

    cache = walkthrough / "cache"
    monkeypatch.chdir(walkthrough)
    monkeypatch.setenv("NK_CACHE_DIR", str(cache))
    monkeypatch.setenv("COLUMNS", "120")
    argv = _argv(command, cache)
    rc = nk.cli.main(argv)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    if documented is not None and documented.startswith("Error:"):
        assert rc == 2, text
        first_sentence = documented.split(". ")[0]
        assert first_sentence in " ".join(text.split()), text
    else:
        assert rc == 0, f"{' '.join(argv)}\n{text}"


def test_walkthrough_explore_used_shap_and_umap(walkthrough):
    """`make test` installs the explore extra, so the README's `nk explore` runs SHAP and UMAP
    (their code is tested, not skipped as "not installed")."""
    import json

    runs = [json.loads(p.read_text()) for p in walkthrough.glob("results/*/*-explore/explore.json")]
    if not runs:
        pytest.skip("runs after the README commands (run the whole module)")
    full = [r for r in runs if "umap" in (r.get("scatter") or {})]
    assert full, [r.get("notes") for r in runs]
    assert not any("not installed" in note for r in runs for note in r.get("notes", []))
    assert any((Path(r["run_dir"]) / "tables" / "feature_importance.csv").is_file()
               and "shap" in (Path(r["run_dir"]) / "tables" / "feature_importance.csv").read_text().splitlines()[0]
               for r in runs)
