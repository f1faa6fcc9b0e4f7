"""Dataset recipes: `nk data prepare`, the polish recipe on a synthetic zip, third-party recipes."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from nk import hookimpl
from nk.cli import main
from nk.testing import write_tone


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No recipe reaches the network in these tests."""
    from nk.datasets import base

    monkeypatch.setattr(base, "open_url", lambda url: pytest.fail(f"a test tried to download {url}"))


def fake_polish_zip(path: Path, tmp: Path) -> Path:
    """A zip shaped like polish_speech_emotions.zip: POLISH/m<spk>.<emo>_<word>_<rep>.wav."""
    with zipfile.ZipFile(path, "w") as zf:
        for spk in range(1, 6):
            for emo, f0 in (("a", 180), ("s", 220), ("n", 120)):
                for rep in (1, 2):
                    wav = write_tone(tmp / f"m{spk}.{emo}_nie_{rep}.wav", f0=f0 + 3 * spk, seconds=0.4)
                    zf.write(wav, f"POLISH/{wav.name}")
        zf.writestr("POLISH/readme.md", "not audio")
    return path


def test_prepare_polish_from_zip_then_run(nk_pm, tmp_path, monkeypatch, capsys):
    archive = fake_polish_zip(tmp_path / "polish.zip", tmp_path / "src")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["data", "prepare", "polish", "--zip", str(archive)], pm=nk_pm) == 0
    table = pd.read_csv(tmp_path / "data" / "polish" / "polish.csv")
    assert len(table) == 30 and set(table.emotion) == {"anger", "fear", "neutral"}
    assert dict(table.groupby("split").speaker.nunique()) == {"dev": 1, "test": 1, "train": 3}
    assert (tmp_path / "data" / "polish" / table.file[0]).is_file()
    # the presets nk ships run on it (given split with dev merged, and LOSO), with no ./conf
    assert not (tmp_path / "conf").exists()
    for experiment in ("polish", "polish_loso"):
        code = main(["run", f"experiment={experiment}", "feats=mfcc", "n_jobs=1",
                     f"results_root={tmp_path / 'results'}"], pm=nk_pm)
        assert code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "results").glob("polish*/*/results.json"))) == 2


def test_prepare_with_a_bad_zip_is_a_user_error(nk_pm, tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    assert main(["data", "prepare", "polish", "--zip", str(bad), "--dest", str(tmp_path / "d")], pm=nk_pm) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "bad.zip' is not a zip or tar archive" in err and "POLISH/m<speaker 1…5>" in err


def test_unknown_recipe_lists_the_available(nk_pm, tmp_path, capsys):
    assert main(["data", "prepare", "emodbx"], pm=nk_pm) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'emodbx'" in err and "emodb" in err


@dataclass
class TinyConfig:
    """No parameters."""


class Tiny:
    def prepare(self, dest, *, source, console):
        dest.mkdir(parents=True, exist_ok=True)
        write_tone(dest / "a.wav")
        (dest / "tiny.csv").write_text("file,label\na.wav,x\n")
        return dest / "tiny.csv"


class TinyRecipes:
    @hookimpl
    def nk_register_datasets(self, register):
        register("tiny", Tiny, TinyConfig, description="one file")


def test_third_party_recipe(nk_pm, nk_register_plugin, tmp_path, capsys):
    nk_register_plugin(TinyRecipes(), name="nk-tiny")
    assert main(["data", "list"], pm=nk_pm) == 0
    assert "tiny" in capsys.readouterr().out
    assert main(["data", "prepare", "tiny", "--dest", str(tmp_path / "t")], pm=nk_pm) == 0
    assert (tmp_path / "t" / "tiny.csv").is_file()


def test_polish_download_runs_pip_for_nkululekos_sdist(nk_pm, tmp_path, monkeypatch, capsys):
    """The download path up to the request: pip (replaced here) fetches the sdist that carries the zip."""
    import subprocess
    import tarfile

    from nk.datasets import polish

    archive = fake_polish_zip(tmp_path / "polish_speech_emotions.zip", tmp_path / "src")
    asked = []

    def fake_run(cmd, **kwargs):
        asked.append(cmd)
        folder = Path(cmd[cmd.index("-d") + 1])
        with tarfile.open(folder / "nkululeko-1.14.1.tar.gz", "w:gz") as tar:
            tar.add(archive, arcname=f"nkululeko-1.14.1/{polish.MEMBER}")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(polish.subprocess, "run", fake_run)
    assert main(["data", "prepare", "polish", "--dest", str(tmp_path / "d")], pm=nk_pm) == 0, capsys.readouterr().err
    (cmd,) = asked
    assert cmd[1:4] == ["-m", "pip", "download"] and "nkululeko==1.14.1" in cmd and "--no-deps" in cmd
    assert len(pd.read_csv(tmp_path / "d" / "polish.csv")) == 30
