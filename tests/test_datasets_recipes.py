"""Every dataset recipe on a small fake copy of its corpus (the real file names and label files,
a handful of synthetic wavs), its errors, the download path up to the request, the presets."""

from __future__ import annotations

import io
import shutil
import tarfile
import urllib.error
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from nk.cli import main
from nk.datasets import RECIPE_MODULES, base
from nk.datasets.emotions import COMMON, check_mapping
from nk.testing import DatasetContract, LoaderContract, write_tone


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No recipe reaches the network here (tests that test a download replace this again)."""
    monkeypatch.setattr(base, "open_url", lambda url: pytest.fail(f"a test tried to download {url}"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("tone") / "t.wav", seconds=0.25)


def put(template: Path, root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)


# --- one fake corpus per recipe: (builder, rows expected, checks on the table) -----------------

def emodb(t: Path, root: Path) -> None:
    put(t, root, "wav/03a01Fa.wav", "wav/08b02Wb.wav", "wav/16a05Lc.wav", "wav/10b09Tb.wav")
    (root / "erklaerung.txt").write_text("not audio")
    put(t, root, "wav/readme_copy.wav")  # not the scheme: listed as skipped


def ravdess(t: Path, root: Path) -> None:
    put(t, root, "Actor_01/03-01-01-01-01-01-01.wav", "Actor_12/03-01-06-02-02-01-12.wav",
        "Actor_12/03-01-08-01-01-02-12.wav", "Actor_07/03-02-05-02-01-01-07.wav")


def cremad(t: Path, root: Path) -> None:
    put(t, root, "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1002_IEO_HAP_HI.wav", "AudioWAV/1091_TSI_SAD_LO.wav")
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n1091,29,Female,Asian,Not Hispanic\n")


def tess(t: Path, root: Path) -> None:
    put(t, root, "OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_dog_ps.wav",
        "YAF_fear/YAF_chair_Fear.wav")


def savee(t: Path, root: Path) -> None:
    put(t, root, "AudioData/DC/a01.wav", "AudioData/JE/sa03.wav", "AudioData/KL/su15.wav", "AudioData/JK/n30.wav")


def shemo(t: Path, root: Path) -> None:
    put(t, root, "female/F01A01.wav", "female/F12W03.wav", "male/M05N10.wav")


def emovo(t: Path, root: Path) -> None:
    put(t, root, "f1/dis-f1-b1.wav", "m3/gio-m3-l4.wav", "f2/pau-f2-n5.wav")


def cafe(t: Path, root: Path) -> None:
    put(t, root, "Colère/Faible/01-C-1-1.wav", "Joie/Fort/12-J-2-6.wav", "Neutre/03-N-4.wav")


def enterface(t: Path, root: Path) -> None:
    put(t, root, "subject 1/anger/sentence 1/s1_an_1.wav", "subject 42/surprise/sentence 5/s42_su_5.wav")


def urdu(t: Path, root: Path) -> None:
    put(t, root, "Angry/SM1_F1_A01.wav", "Happy/SF3_F12_H07.wav", "Sad/SM20_F2_S10.wav")


def esd(t: Path, root: Path) -> None:
    put(t, root, "0011/Angry/train/0011_000351.wav", "0011/Neutral/evaluation/0011_000001.wav",
        "0003/Surprise/test/0003_001400.wav")
    (root / "0011" / "0011.txt").write_text("0011_000001\tThe nine the eggs.\tNeutral\n")


def jl(t: Path, root: Path) -> None:
    put(t, root, "female1_angry_1a_1.wav", "male2_excited_10b_2.wav", "female2_apologetic_3a_1.wav")


def mesd(t: Path, root: Path) -> None:
    put(t, root, "Anger_C_A_abajo.wav", "Neutral_F_B_casa.wav", "Sadness_M_A_ayer.wav")


def polish(t: Path, root: Path) -> None:
    put(t, root, "POLISH/m1.a_nie_1.wav", "POLISH/m4.s_tak_2.wav", "POLISH/m2.n_nie_1.wav")


def iemocap(t: Path, root: Path) -> None:
    rel = "IEMOCAP_full_release/Session1"
    put(t, root, f"{rel}/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav",
        f"{rel}/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav",
        "IEMOCAP_full_release/Session5/sentences/wav/Ses05M_script01_1/Ses05M_script01_1_F002.wav")
    (root / rel / "dialog/EmoEvaluation").mkdir(parents=True)
    (root / rel / "dialog/EmoEvaluation/Ses01F_impro01.txt").write_text(
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
        "C-E2:\tNeutral;\t()\n\n"
        "[10.0100 - 11.3925]\tSes01F_impro01_M001\texc\t[3.5000, 3.0000, 3.0000]\n")
    (root / "IEMOCAP_full_release/Session5/dialog/EmoEvaluation").mkdir(parents=True)
    (root / "IEMOCAP_full_release/Session5/dialog/EmoEvaluation/Ses05M_script01_1.txt").write_text(
        "[1.0 - 2.0]\tSes05M_script01_1_F002\tang\t[1.5000, 4.0000, 4.5000]\n")


def msppodcast(t: Path, root: Path) -> None:
    put(t, root, "Audios/MSP-PODCAST_0001_0008.wav", "Audios/MSP-PODCAST_0002_0033.wav",
        "Audios/MSP-PODCAST_0153_0010.wav")
    (root / "Labels").mkdir()
    (root / "Labels/labels_consensus.csv").write_text(
        "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
        "MSP-PODCAST_0001_0008.wav,N,4.2,4.0,4.2,127,Female,Train\n"
        "MSP-PODCAST_0002_0033.wav,A,6.0,2.0,5.5,1157,Male,Development\n"
        "MSP-PODCAST_0153_0010.wav,X,3.0,3.0,3.0,Unknown,Unknown,Test2\n")


def mspimprov(t: Path, root: Path) -> None:
    put(t, root, "Audio/session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav",
        "Audio/session1/S01A/R/MSP-IMPROV-S01A-M01-R-MF01.wav")
    (root / "Evaluation.txt").write_text(
        "UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:4.000000; V:2.000000; D:4.000000; N:4.000000;\n"
        "Reviewer1; Angry; ...\n"
        "UTD-IMPROV-S01A-M01-R-MF01.avi; N; A:2.500000; V:3.000000; D:3.000000; N:2.000000;\n")


CORPORA: dict[str, tuple[Callable[[Path, Path], None], int, dict[str, object]]] = {
    # name: (builder, rows, {column: expected values in file order})
    "emodb": (emodb, 4, {"speaker": ["emodb_03", "emodb_08", "emodb_10", "emodb_16"],
                         "emotion": ["happiness", "anger", "sadness", "boredom"],
                         "gender": ["male", "female", "male", "female"], "age": [31, 34, 32, 31]}),
    "ravdess": (ravdess, 4, {"speaker": ["ravdess_01", "ravdess_07", "ravdess_12", "ravdess_12"],
                             "emotion": ["neutral", "anger", "fear", "surprise"],
                             "gender": ["male", "male", "female", "female"],
                             "channel": ["speech", "song", "speech", "speech"]}),
    "cremad": (cremad, 3, {"speaker": ["cremad_1001", "cremad_1002", "cremad_1091"],
                           "emotion": ["anger", "happiness", "sadness"], "gender": ["male", "female", "female"],
                           "age": [51, 21, 29], "level": ["XX", "HI", "LO"]}),
    "tess": (tess, 3, {"speaker": ["tess_OAF", "tess_YAF", "tess_YAF"],
                       "emotion": ["anger", "fear", "surprise"], "age": [64, 26, 26]}),
    "savee": (savee, 4, {"speaker": ["savee_DC", "savee_JE", "savee_JK", "savee_KL"],
                         "emotion": ["anger", "sadness", "neutral", "surprise"]}),
    "shemo": (shemo, 3, {"speaker": ["shemo_F01", "shemo_F12", "shemo_M05"],
                         "emotion": ["anger", "surprise", "neutral"], "gender": ["female", "female", "male"]}),
    "emovo": (emovo, 3, {"speaker": ["emovo_f1", "emovo_f2", "emovo_m3"],
                         "emotion": ["disgust", "fear", "happiness"], "gender": ["female", "female", "male"]}),
    "cafe": (cafe, 3, {"speaker": ["cafe_01", "cafe_12", "cafe_03"], "emotion": ["anger", "happiness", "neutral"],
                       "intensity": ["low", "high", "none"]}),
    "enterface": (enterface, 2, {"speaker": ["enterface_s1", "enterface_s42"], "emotion": ["anger", "surprise"]}),
    "urdu": (urdu, 3, {"speaker": ["urdu_SM1", "urdu_SF3", "urdu_SM20"],
                       "emotion": ["anger", "happiness", "sadness"], "gender": ["male", "female", "male"]}),
    "esd": (esd, 3, {"speaker": ["esd_0003", "esd_0011", "esd_0011"], "emotion": ["surprise", "anger", "neutral"],
                     "split": ["test", "train", "dev"], "language": ["Mandarin", "English", "English"]}),
    "jl": (jl, 3, {"speaker": ["jl_female1", "jl_female2", "jl_male2"],
                   "emotion": ["anger", "apology", "excitement"]}),
    "mesd": (mesd, 3, {"speaker": ["mesd_C", "mesd_F", "mesd_M"], "emotion": ["anger", "neutral", "sadness"],
                       "age_group": ["child", "adult", "adult"]}),
    "polish": (polish, 3, {"speaker": ["polish_m1", "polish_m2", "polish_m4"],
                           "emotion": ["anger", "neutral", "fear"], "split": ["test", "train", "dev"]}),
    "iemocap": (iemocap, 3, {"speaker": ["iemocap_Ses01F", "iemocap_Ses01M", "iemocap_Ses05F"],
                             "emotion": ["neutral", "excitement", "anger"], "arousal": [2.5, 3.0, 4.0],
                             "session": [1, 1, 5]}),
    "msppodcast": (msppodcast, 3, {"emotion": ["neutral", "anger", "no_agreement"],
                                   "split": ["train", "dev", None], "speaker": ["msppodcast_127",
                                                                                "msppodcast_1157", None]}),
    "mspimprov": (mspimprov, 2, {"speaker": ["mspimprov_F01", "mspimprov_M01"], "emotion": ["anger", "neutral"],
                                 "valence": [2.0, 3.0]}),
}


def test_every_recipe_has_a_fake_corpus_here():
    assert set(CORPORA) == set(RECIPE_MODULES)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_recipe_parses_its_corpus_folder(name, nk_pm, template, tmp_path, capsys):
    build, n_rows, expected = CORPORA[name]
    root = tmp_path / "corpus"
    build(template, root)
    dest = tmp_path / "out"
    assert main(["data", "prepare", name, "--source", str(root), "--dest", str(dest)], pm=nk_pm) == 0, \
        capsys.readouterr().err
    table = pd.read_csv(dest / f"{name}.csv")
    assert len(table) == n_rows
    assert table.columns[0] == "file" and {"speaker", "emotion", "emotion_code"} <= set(table.columns)
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in table.file)  # the folder is used in place
    for column, values in expected.items():
        got = [None if pd.isna(v) else v for v in table[column]]
        assert got == values, (column, got)
    about = (dest / f"{name}.about.txt").read_text()
    recipe = nk_pm.registry.get("dataset", name).factory
    assert recipe.licence in about and recipe.citation in about
    check_mapping(name, recipe.emotions)


def test_emodb_from_its_zip_and_the_preset(nk_pm, template, tmp_path, monkeypatch, capsys):
    root = tmp_path / "src"
    emodb(template, root)
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            zf.write(path, path.relative_to(root).as_posix())
        zf.writestr("__MACOSX/wav/._03a01Fa.wav", b"resource fork")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "prepare", "emodb", "--source", str(archive)], pm=nk_pm) == 0
    out = capsys.readouterr().out
    assert "Skipped 1 audio files" in out and "readme_copy.wav" in out
    table = pd.read_csv(tmp_path / "data/emodb/emodb.csv")
    assert table.file.tolist()[0] == "source/wav/03a01Fa.wav"  # relative to the table's folder
    from nk.config import compose

    cfg = compose(["data=emodb"], nk_pm)  # the preset points at ./data/emodb/emodb.csv
    assert cfg.data.emodb.loader == "prepared" and cfg.data.emodb.path == "data/emodb/emodb.csv"


def test_tar_archive_is_extracted(nk_pm, template, tmp_path):
    root = tmp_path / "src"
    savee(template, root)
    archive = tmp_path / "AudioData.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "AudioData", arcname="AudioData")
    assert main(["data", "prepare", "savee", "--source", str(archive), "--dest", str(tmp_path / "d")],
                pm=nk_pm) == 0
    assert len(pd.read_csv(tmp_path / "d/savee.csv")) == 4


def test_wrong_folder_names_the_folder_and_the_layout(nk_pm, template, tmp_path, capsys):
    put(template, tmp_path / "music", "song.wav", "Actor_01/take1.wav")
    assert main(["data", "prepare", "ravdess", "--source", str(tmp_path / "music"), "--dest",
                 str(tmp_path / "d")], pm=nk_pm) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "music' holds no audio files of RAVDESS" in err and "2 other audio files" in err
    assert "Actor_NN/MM-VV-EE-II-SS-RR-AA.wav" in err
    assert not (tmp_path / "d" / "ravdess.csv").exists()


def test_corrupt_archive_is_a_user_error(nk_pm, tmp_path, capsys):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("wav/03a01Fa.wav", b"x" * 5000)
    broken = tmp_path / "emodb.zip"
    broken.write_bytes(good.read_bytes()[:-60])  # truncated: the central directory is gone
    assert main(["data", "prepare", "emodb", "--source", str(broken), "--dest", str(tmp_path / "d")], pm=nk_pm) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "emodb.zip" in err and ("damaged" in err or "not a zip or tar archive" in err)
    assert "wav/<speaker 2 digits>" in err


def test_archive_member_outside_the_target_is_refused(nk_pm, tmp_path, capsys):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.wav", b"x")
    assert main(["data", "prepare", "emodb", "--source", str(evil), "--dest", str(tmp_path / "d")], pm=nk_pm) == 2
    assert "outside the target folder" in capsys.readouterr().err
    assert not (tmp_path / "outside.wav").exists()


def test_missing_source_is_a_user_error(nk_pm, tmp_path, capsys):
    assert main(["data", "prepare", "tess", "--source", str(tmp_path / "nope")], pm=nk_pm) == 2
    assert "nope' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["iemocap", "msppodcast", "mspimprov", "savee", "esd"])
def test_licensed_corpus_without_source_says_how_to_get_it(name, nk_pm, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(base, "open_url", lambda url: pytest.fail(f"no download for {name}: {url}"))
    assert main(["data", "prepare", name, "--dest", str(tmp_path / "d")], pm=nk_pm) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "cannot be downloaded by nk" in err and f"nk data prepare {name} --source PATH" in err


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_requests_the_recipes_url_then_prepares(nk_pm, template, tmp_path, monkeypatch, capsys):
    root = tmp_path / "src"
    ravdess(template, root)
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as zf:
        for path in sorted(root.rglob("*.wav")):
            zf.write(path, path.relative_to(root).as_posix())
    asked: list[str] = []

    def fake_open(url):
        asked.append(url)
        return FakeResponse(payload.getvalue())

    monkeypatch.setattr(base, "open_url", fake_open)
    dest = tmp_path / "d"
    assert main(["data", "prepare", "ravdess", "--dest", str(dest)], pm=nk_pm) == 0, capsys.readouterr().err
    assert asked == ["https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1"]
    assert (dest / "downloads" / "Audio_Speech_Actors_01-24.zip").is_file()
    assert len(pd.read_csv(dest / "ravdess.csv")) == 4
    # a second prepare reuses the download
    assert main(["data", "prepare", "ravdess", "--dest", str(dest)], pm=nk_pm) == 0
    assert len(asked) == 1


@pytest.mark.parametrize("name", ["emodb", "tess", "shemo", "cafe", "urdu"])
def test_download_urls_of_the_open_corpora(name, nk_pm, tmp_path, monkeypatch, capsys):
    asked: list[str] = []

    def refuse(url):
        asked.append(url)
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(base, "open_url", refuse)
    assert main(["data", "prepare", name, "--dest", str(tmp_path / "d")], pm=nk_pm) == 2
    recipe = nk_pm.registry.get("dataset", name).factory
    assert asked == [recipe.downloads[0].url] and asked[0].startswith(("https://", "http://emodb."))
    err = " ".join(capsys.readouterr().err.split())
    assert "Could not download" in err and "--source PATH" in err
    assert not list((tmp_path / "d" / "downloads").glob("*.part"))


def test_cremad_download_lists_then_fetches_each_clip(nk_pm, template, tmp_path, monkeypatch, capsys):
    wav = template.read_bytes()
    files = {
        "SentenceFilenames.csv": b"Stimulus_Number,Filename\n1,1001_DFA_ANG_XX\n2,1002_IEO_HAP_HI\n",
        "VideoDemographics.csv": b"ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,x,y\n1002,21,Female,x,y\n",
    }
    asked: list[str] = []

    def fake_open(url):
        asked.append(url)
        name = url.rsplit("/", 1)[-1]
        return FakeResponse(files.get(name, wav))

    monkeypatch.setattr(base, "open_url", fake_open)
    assert main(["data", "prepare", "cremad", "--dest", str(tmp_path / "d")], pm=nk_pm) == 0, capsys.readouterr().err
    assert asked[-1] == ("https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/"
                         "AudioWAV/1002_IEO_HAP_HI.wav") and len(asked) == 4
    table = pd.read_csv(tmp_path / "d/cremad.csv")
    assert table.gender.tolist() == ["male", "female"]


def test_sha256_mismatch_names_the_file_and_keeps_nothing(tmp_path, monkeypatch):
    from rich.console import Console

    from nk.errors import UserError

    monkeypatch.setattr(base, "open_url", lambda url: FakeResponse(b"tampered"))
    item = base.Download("https://example.org/c.zip", "c.zip", sha256="0" * 64)
    with pytest.raises(UserError) as err:
        base.fetch(item, tmp_path, Console(file=io.StringIO()))
    assert "has sha256" in err.value.message and "0" * 64 in err.value.message
    assert str(tmp_path / "c.zip") in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_data_list_shows_every_recipe_with_its_licence(nk_pm, capsys):
    assert main(["data", "list"], pm=nk_pm) == 0
    out = capsys.readouterr().out
    for name in RECIPE_MODULES:
        recipe = nk_pm.registry.get("dataset", name).factory
        line = next(line for line in out.splitlines() if line.split()[:1] == [name])
        assert recipe.licence in line and ("download" in line or "--source only" in line)
        assert f"cite: {recipe.citation}" in out


def test_common_emotion_names_combine_two_databases(nk_pm, template, tmp_path, monkeypatch, capsys):
    """'data=[emodb,ravdess]' with labels=[...] runs on the two prepared tables, without label maps."""
    def corpus(builder_names: dict[str, list[str]]) -> None:
        for name, files in builder_names.items():
            root = tmp_path / f"{name}-src"
            for i, f in enumerate(files):
                write_tone(root / f, f0=120 + 40 * (i % 4), seconds=0.3, seed=i)
            assert main(["data", "prepare", name, "--source", str(root)], pm=nk_pm) == 0

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    emo = {"W": 0, "F": 1, "N": 2, "T": 3}
    rav = {"05": 0, "03": 1, "01": 2, "04": 3}
    corpus({
        "emodb": [f"wav/{spk}a0{v}{e}a.wav" for spk in ("03", "08", "09", "10") for e in emo for v in (1, 2)],
        "ravdess": [f"Actor_{a:02d}/03-01-{e}-01-0{s}-01-{a:02d}.wav" for a in (1, 2, 3, 4) for e in rav
                    for s in (1, 2)],
    })
    import logging

    from rich.console import Console

    from nk import stages
    from nk.config import compose
    from nk.context import RunContext

    cfg = compose(["data=[emodb,ravdess]", "labels=[anger,happiness,neutral,sadness]"], nk_pm)
    ctx = RunContext(cfg=cfg, run_dir=tmp_path, pm=nk_pm, log=logging.getLogger("nk.test"),
                     console=Console(file=io.StringIO()))
    loaded = stages.load(ctx)  # the load stage of `nk run`: no target given, no label maps
    assert loaded.target == "emotion" and loaded.task == "classification"
    assert loaded.report["databases"] == {"emodb": 32, "ravdess": 32}
    assert sorted(loaded.frame.emotion.unique()) == ["anger", "happiness", "neutral", "sadness"]
    assert loaded.frame.groupby("db").speaker.nunique().to_dict() == {"emodb": 4, "ravdess": 4}


def test_common_set_is_documented_in_the_readme():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Public databases"):]
    for name in COMMON:
        assert name in section
    for name in RECIPE_MODULES:
        assert f"`{name}`" in section


# --- the contract suite for every recipe -----------------------------------------------------

for _name in RECIPE_MODULES:
    globals()[f"TestRecipe_{_name}"] = type(f"TestRecipe_{_name}", (DatasetContract,), {"name": _name})


class TestPreparedLoader(LoaderContract):
    """The loader of the presets: a prepared table, with emotion as the default target."""

    name = "prepared"

    @pytest.fixture(autouse=True)
    def _table(self, nk_pm, template, tmp_path, monkeypatch):
        emodb(template, tmp_path / "src")
        assert main(["data", "prepare", "emodb", "--source", str(tmp_path / "src"), "--dest",
                     str(tmp_path / "d")], pm=nk_pm) == 0
        monkeypatch.setattr(type(self), "params", {"path": str(tmp_path / "d" / "emodb.csv")})

    def test_default_target_is_emotion(self, nk_pm, nk_context):
        corpus = self.build(nk_pm).load(nk_context)
        assert corpus.default_target == "emotion" and len(corpus.frame) == 4


def test_a_wrong_archive_leaves_the_earlier_extraction(nk_pm, template, tmp_path, capsys):
    root = tmp_path / "src"
    emodb(template, root)
    good, wrong = tmp_path / "emodb.zip", tmp_path / "other.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for path in sorted(root.rglob("*.wav")):
            zf.write(path, path.relative_to(root).as_posix())
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.write(template, "music/song.wav")
    dest = tmp_path / "d"
    assert main(["data", "prepare", "emodb", "--source", str(good), "--dest", str(dest)], pm=nk_pm) == 0
    before = (dest / "emodb.csv").read_text()
    assert main(["data", "prepare", "emodb", "--source", str(wrong), "--dest", str(dest)], pm=nk_pm) == 2
    assert "other.zip' holds no audio files of EmoDB" in " ".join(capsys.readouterr().err.split())
    assert (dest / "emodb.csv").read_text() == before
    assert (dest / "source" / "wav" / "03a01Fa.wav").is_file()
    assert sorted(p.name for p in dest.iterdir()) == ["emodb.about.txt", "emodb.csv", "source"]
