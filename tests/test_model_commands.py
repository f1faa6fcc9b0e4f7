"""Commands that use a trained model: nk test, nk demo, nk export (bundles) and nk serve (the
JSON API, and the page in headless Chromium). One run is trained per module."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from nk.cli import main
from nk.plugins import PluginManager

SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1", "bootstrap.n_resamples=100", "document.pdf=never"]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    cache = tmp_path_factory.getbasetemp() / "nk-cache"
    common = [*SMALL, f"results_root={root / 'results'}", f"cache_dir={cache}"]
    assert main(["run", *common, "name=svm"], pm=PluginManager()) == 0
    (run_dir,) = (root / "results" / "svm").iterdir()
    bundle = root / "bundle"
    assert main(["export", str(run_dir), str(bundle)], pm=PluginManager()) == 0
    test_files = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    return {"root": root, "run": run_dir, "bundle": bundle, "files": list(test_files.index),
            "expected": test_files, "common": [f"results_root={root / 'results'}", f"cache_dir={cache}",
                                               "bootstrap.n_resamples=100", "document.pdf=never", "n_jobs=1"]}


# --- nk demo ------------------------------------------------------------------------------------


def test_demo_prints_labels_for_files_folders_and_lists(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    files = trained["files"][:2]
    out = tmp_path / "pred.csv"
    assert main(["demo", str(trained["run"]), *files, "--out", str(out)], pm=PluginManager()) == 0
    printed = capsys.readouterr().out
    expected = trained["expected"].loc[files]
    for file, label in expected["pred"].items():
        assert Path(file).name in printed and label in printed
    got = pd.read_csv(out, index_col=0)
    assert got["pred"].tolist() == expected["pred"].tolist()
    assert [c for c in got.columns if c.startswith("proba.")] == [c for c in expected.columns if c.startswith("proba.")]
    folder = tmp_path / "audio"
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / Path(f).name)
    listing = tmp_path / "list.txt"
    listing.write_text("# two files\n" + "\n".join(f"audio/{Path(f).name}" for f in files) + "\n")
    for args in ([str(folder)], ["--list", str(listing)]):
        assert main(["demo", str(trained["run"]), *args], pm=PluginManager()) == 0
        printed = capsys.readouterr().out
        assert all(label in printed for label in expected["pred"])
    assert main(["demo", str(trained["run"]), files[0], "--out", str(out)], pm=PluginManager()) == 2
    assert "does not overwrite" in capsys.readouterr().err
    assert main(["demo", str(trained["run"]), str(tmp_path / "nothing.wav")], pm=PluginManager()) == 2
    assert "No such file or folder" in capsys.readouterr().err
    monkeypatch.chdir(trained["root"])  # an experiment name: its latest finished run below ./results
    assert main(["demo", "svm", files[0]], pm=PluginManager()) == 0
    assert expected["pred"].iloc[0] in capsys.readouterr().out
    assert main(["demo", "nosuch", files[0]], pm=PluginManager()) == 2
    assert "No run folder or experiment named 'nosuch'" in capsys.readouterr().err


def test_demo_mic_without_sounddevice_says_how_to_install(trained, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as when not installed
    assert main(["demo", str(trained["run"]), "--mic", "2"], pm=PluginManager()) == 2
    err = capsys.readouterr().err
    assert "needs the sounddevice package" in err and "pip install sounddevice" in err


@pytest.mark.skipif(os.environ.get("NK_TEST_MICROPHONE") != "1",
                    reason="records from a real microphone: set NK_TEST_MICROPHONE=1 on a machine with one")
def test_demo_records_from_the_microphone(trained, capsys):
    assert main(["demo", str(trained["run"]), "--mic", "1"], pm=PluginManager()) == 0
    assert "microphone.wav" in capsys.readouterr().out


# --- nk test ------------------------------------------------------------------------------------


def test_nk_test_evaluates_on_a_new_database_and_names_unseen_labels(trained, capsys):
    new_db = "data.demo.n_utterances=3"  # other files (and more of them) than the model saw
    args = ["test", str(trained["run"]), "--data", "demo", new_db, *trained["common"]]
    assert main([*args, "data.demo.label_map={sad: bored}"], pm=PluginManager()) == 2
    err = capsys.readouterr().err
    assert "labels the model never saw: bored (36 rows)" in err and "label_map" in err
    assert "Allowed: angry, happy, neutral, sad" in err
    assert main([*args, "data.demo.label_map={sad: angry}"], pm=PluginManager()) == 0  # mapped onto known labels
    out = capsys.readouterr().out
    assert "Test on demo: UAR" in out
    folder = sorted((trained["root"] / "results" / "demo").glob("*-test"))[-1]
    results = json.loads((folder / "results.json").read_text())
    assert results["kind"] == "test" and results["test"]["n"] == 144 and "ci" in results["test"]["uar"]
    assert results["test"]["uar"]["ci_method"] == "speaker"  # 12 speakers: a speaker bootstrap
    assert {"predictions.csv", "confusion_matrix.png", "report.html", "config.yaml", "nk.log"} <= \
        {p.name for p in folder.iterdir()}
    assert "Model card" in (folder / "report.html").read_text()


# --- bundles ------------------------------------------------------------------------------------


def test_bundle_has_model_card_hashes_and_no_pickle(trained):
    bundle = trained["bundle"]
    names = {p.name for p in bundle.iterdir()}
    assert {"bundle.json", "MODEL_CARD.md", "manifest.json", "spec.json", "model.skops"} <= names
    assert not list(bundle.rglob("*.pkl")) and not list(bundle.rglob("*.joblib"))
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["format"] == "nk-bundle/1" and set(meta["files"]) == names - {"bundle.json"}
    assert meta["versions"]["libraries"]["scikit-learn"]
    assert json.loads((bundle / "spec.json").read_text())["config"]["cache_dir"] is None
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "Test score" in card and "UAR" in card and "angry" in card


def test_bundle_works_in_a_fresh_process_from_another_folder_with_an_empty_cache(trained, tmp_path):
    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(trained["bundle"], moved)
    wav = tmp_path / "some.wav"
    shutil.copy(trained["files"][0], wav)
    env = {**os.environ, "NK_CACHE_DIR": str(tmp_path / "empty-cache"), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "nk.cli", "demo", str(moved), str(wav)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert trained["expected"]["pred"].iloc[0] in proc.stdout and "some.wav" in proc.stdout
    assert (tmp_path / "empty-cache").is_dir()  # features were computed again, in the new cache


def test_damaged_or_foreign_bundles_are_refused(trained, tmp_path, capsys):
    wav = trained["files"][0]
    damaged = tmp_path / "damaged"
    shutil.copytree(trained["bundle"], damaged)
    with open(damaged / "MODEL_CARD.md", "a") as fh:
        fh.write("edited\n")
    assert main(["demo", str(damaged), wav], pm=PluginManager()) == 2
    assert "MODEL_CARD.md does not match its sha256" in capsys.readouterr().err
    future = tmp_path / "future"
    shutil.copytree(trained["bundle"], future)
    meta = json.loads((future / "bundle.json").read_text())
    meta["nk_version"] = "7.0.0"
    (future / "bundle.json").write_text(json.dumps(meta))
    assert main(["demo", str(future), wav], pm=PluginManager()) == 2
    assert "made by nk 7.0.0, which this nk" in capsys.readouterr().err
    assert main(["export", str(trained["run"]), str(trained["bundle"])], pm=PluginManager()) == 2
    assert "exists and is not empty" in capsys.readouterr().err


# --- nk serve -----------------------------------------------------------------------------------

fastapi = pytest.importorskip("fastapi", reason="nk serve needs the serve extra (pip install 'nk[serve]')")


@pytest.fixture(scope="module")
def web(trained):
    from nk.bundle import card_of
    from nk.inference import load_run
    from nk.serve import create_app

    return create_app(load_run(trained["bundle"]), card_of(trained["bundle"]), max_mb=1)


def test_serve_api_predicts_and_refuses_bad_uploads(web, trained):
    from fastapi.testclient import TestClient

    client = TestClient(web)
    page = client.get("/")
    assert page.status_code == 200 and "Model card" in page.text and "UAR" in page.text
    with open(trained["files"][0], "rb") as fh:
        answer = client.post("/predict", files={"file": ("x.wav", fh, "audio/wav")})
    assert answer.status_code == 200
    body = answer.json()
    assert body["label"] == trained["expected"]["pred"].iloc[0]
    assert set(body["probabilities"]) == {"angry", "happy", "neutral", "sad"}
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-6
    bad = client.post("/predict", files={"file": ("notes.txt", b"not audio at all", "text/plain")})
    assert bad.status_code == 400 and "not an audio file" in bad.json()["error"]
    big = client.post("/predict", files={"file": ("big.wav", b"\0" * (1 << 21), "audio/wav")})
    assert big.status_code == 413
    evil = client.post("/predict", files={"file": ("../../etc/x.wav", b"junk", "audio/wav")})
    assert evil.status_code == 400 and not (Path.cwd().parent.parent / "etc" / "x.wav").exists()
    assert client.get("/card").json()["labels"] == ["angry", "happy", "neutral", "sad"]


def test_serve_binds_localhost_by_default():
    from nk.cli import build_parser

    args = build_parser(PluginManager()).parse_args(["serve", "RUN"])
    assert args.host == "127.0.0.1" and args.port == 8000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (.ci/run installs it: "
                    "apt-get install chromium)")
def test_serve_page_in_headless_chromium(web, trained, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        wav = tmp_path / "upload.wav"
        shutil.copy(trained["files"][0], wav)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            assert "Model card" in page.content()
            page.set_input_files("#file", str(wav))
            page.click("#send")
            page.wait_for_function("document.getElementById('label').textContent.length > 0", timeout=60000)
            assert page.inner_text("#label") == trained["expected"]["pred"].iloc[0]
            assert page.locator(".bar").count() == 4
            page.screenshot(path=str(tmp_path / "serve.png"), full_page=True)
            (tmp_path / "notes.txt").write_text("not audio")
            page.set_input_files("#file", str(tmp_path / "notes.txt"))
            page.click("#send")
            page.wait_for_function("document.getElementById('status').className === 'err'", timeout=30000)
            assert "not an audio file" in page.inner_text("#status")
            browser.close()
        assert (tmp_path / "serve.png").stat().st_size > 5000
    finally:
        server.should_exit = True
        thread.join(timeout=10)
