"""nkululeko INI files in nk: the translation table, malformed files, `nk ini`, `nk run --config`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nk.cli import main
from nk.errors import UserError
from nk.nkululeko import parse_value, read_ini, translate
from nk.testing import write_tone

#: the components the table is translated against (fixed: independent of installed plugins)
COMPONENTS = {
    "feats": {"egemaps": ["feature_set", "feature_level", "stats"],
              "opensmile": ["feature_set", "feature_level", "stats"], "praat": ["pitch_floor"],
              "wav2vec2": ["model", "layer", "pooling", "device"], "wavlm": ["model", "layer", "device"]},
    "model": {"svm": ["C", "kernel", "gamma", "degree", "class_weight"], "tree": ["max_depth"], "knn": ["n_neighbors", "weights"],
              "xgb": ["n_estimators", "max_depth", "learning_rate", "subsample", "class_weight"],
              "mlp": ["layers", "dropout", "batch_size", "learning_rate", "epochs", "patience", "loss",
                      "device", "optimizer", "weight_decay"],
              "finetune": ["pretrained_model", "learning_rate", "batch_size", "epochs", "device"]},
    "predict": {"gender": ["model"], "age": ["model"], "snr": ["quantile"], "mos": [], "speaker": ["n_speakers"]},
    "segment": {"silero": ["threshold", "min_speech", "min_silence", "max_segment"],
                "pyannote": ["pipeline", "token", "n_speakers"]},
    "augment": {"audiomentations": ["copies", "seed", "only", "transforms"],
                "random_splice": ["copies", "seed", "only", "min_chunk", "max_chunk"]},
}

HEAD = """\
[EXP]
root = ./results/
name = exp_demo
[DATA]
databases = ['emodb']
emodb = ./emodb/emodb.csv
emodb.type = csv
emodb.split_strategy = speaker_split
target = emotion
"""

#: (INI snippet appended to HEAD or standing alone, overrides that must be in the translation)
TABLE = [
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\nC_val = 10\nkernel = linear\n",
                 ["results_root=./results/", "name=exp_demo", "data=[]", "+data@data.emodb=csv",
                  "data.emodb.path=./emodb/emodb.csv", "data.emodb.root=.", "split.method=speaker",
                  "split.test_size=0.2", "target=emotion", "feats=[egemaps]", "model=svm", "model.C=10",
                  "model.kernel=linear"], id="os-svm"),
    pytest.param("[FEATS]\ntype = ['os']\nset = ComParE_2016\nlevel = functionals\n[MODEL]\ntype = knn\nK_val = 7\n",
                 ["feats=[opensmile]", "feats.opensmile.feature_set=ComParE_2016",
                  "feats.opensmile.feature_level=Functionals", "model=knn", "model.n_neighbors=7"], id="os-set"),
    pytest.param("[FEATS]\ntype = ['praat', 'os']\nscale = robust\nbalancing = smoteenn\n[MODEL]\ntype = xgb\n"
                 "n_estimators = 50\n",
                 ["feats=[praat,egemaps]", "scale=robust", "balance=smoteenn", "model=xgb", "model.n_estimators=50"],
                 id="praat-xgb-balance"),
    pytest.param("[FEATS]\ntype = ['wav2vec2-large-robust']\nwav2vec2.layer = 8\n[MODEL]\ntype = mlp\n"
                 "layers = {'l1':64, 'l2':16}\ndrop = 0.3\nloss = cross\nlearning_rate = 0.001\n",
                 ["feats=[wav2vec2]", "feats.wav2vec2.model=facebook/wav2vec2-large-robust", "feats.wav2vec2.layer=-9",
                  "model=mlp", "model.layers=[64,16]", "model.dropout=0.3", "model.loss=cross_entropy",
                  "model.learning_rate=0.001"], id="wav2vec2-mlp"),
    pytest.param("[EXP]\nepochs = 20\ntraindevtest = True\n", [], id="merged-exp-placeholder"),
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\nlogo = 3\n",
                 ["split.method=lsgo", "split.n_folds=3"], id="logo"),
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\nk_fold_cross = 4\n",
                 ["split.method=kfold", "split.n_folds=4"], id="k_fold_cross"),
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[FLAGS]\nmodels = ['svm', 'knn']\n"
                 "scale = ['none', 'standard']\n",
                 ["model=svm,knn", "scale=none,standard"], id="flags-multirun"),
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[OPTIM]\nmodel = svm\nc_val = [0.1, 1, 10]\n"
                 "kernel = ['rbf', 'linear']\nmetric = uar\n",
                 ["search.params={C:[0.1,1,10],kernel:[rbf,linear]}"], id="optim-search"),
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[REPORT]\nlatex = True\ntitle = 'My study'\n",
                 ["document.pdf=always", "document.title='My study'"], id="report"),
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[EXPL]\nvalue_counts = [['gender'], ['age', 'gender']]\n"
                 "model = ['tree']\nscatter = ['pca']\n",
                 ["explore.columns=[gender,age]", "explore.tree_model=[tree]", "explore.scatter=[pca]",
                  "explore.analyses=[counts,durations,bias,features,scatter]", "explore.importance=[tree]"],
                 id="explore"),
    pytest.param("[FEATS]\ntype = []\n[MODEL]\ntype = finetune\n[FINETUNE]\npretrained_model = microsoft/wavlm-base\n",
                 ["feats=[]", "model=finetune", "model.pretrained_model=microsoft/wavlm-base"], id="finetune"),
]


def _write(tmp_path: Path, text: str, name: str = "exp.ini") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _merge(snippet: str) -> str:
    """HEAD plus the snippet, with a repeated [EXP] section folded into HEAD's."""
    if snippet.startswith("[EXP]\n"):
        extra = snippet.removeprefix("[EXP]\n")
        return HEAD.replace("name = exp_demo\n", "name = exp_demo\n" + extra) + "[FEATS]\ntype = ['os']\n" \
            "[MODEL]\ntype = mlp\n"
    return HEAD + snippet


@pytest.mark.parametrize(("snippet", "expected"), TABLE)
def test_translation_table(tmp_path, snippet, expected):
    tr = translate(_write(tmp_path, _merge(snippet)), COMPONENTS)
    assert not tr.unsupported, [u.text() for u in tr.unsupported]
    for override in expected:
        assert override in tr.overrides, (override, tr.overrides)
    # every key of the file went somewhere, in the per-key listing
    ini = read_ini(tmp_path / "exp.ini")
    listed = {key for key, _, _ in tr.where}
    for section, keys in ini.sections.items():
        for key in keys:
            assert f"{section}.{key}" in listed, f"{section}.{key}"


def test_epochs_and_traindevtest_go_to_the_model_and_dev(tmp_path):
    tr = translate(_write(tmp_path, _merge("[EXP]\nepochs = 20\ntraindevtest = True\n")), COMPONENTS)
    assert "model.epochs=20" in tr.overrides and "split.merge_dev=false" in tr.overrides
    assert any("dev, never on test" in n for n in tr.notes)  # the semantic difference is told


def test_flags_and_runs_make_a_multirun(tmp_path):
    tr = translate(_write(tmp_path, HEAD.replace("name = exp_demo\n", "name = exp_demo\nruns = 3\n")
                          + "[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[FLAGS]\nbalancing = ['none', 'ros']\n"),
                   COMPONENTS)
    assert tr.multirun and "seed=42,43,44" in tr.overrides and "balance=none,ros" in tr.overrides
    flags = translate(_write(tmp_path, _merge(TABLE[7].values[0]), "flags.ini"), COMPONENTS)
    assert "model=svm,knn" in flags.overrides and "model=svm" not in flags.overrides  # the sweep replaces it
    assert tr.nk_command().startswith("nk run -m ")


def test_the_polish_exp_ini(tmp_path):
    tr = translate(_write(tmp_path, POLISH_INI), COMPONENTS)
    assert not tr.unsupported
    assert tr.overrides == [
        "data=[]",
        "+data@data.train=csv", "data.train.path=./data/polish/polish_train.csv", "data.train.role=train",
        "+data@data.dev=csv", "data.dev.path=./data/polish/polish_dev.csv", "data.dev.role=train",
        "+data@data.test=csv", "data.test.path=./data/polish/polish_test.csv", "data.test.role=test",
        "split.method=given", "split.merge_dev=true", "target=emotion", "labels=[anger,neutral,fear]",
        "results_root=results/", "name=exp_polish_os", "feats=[egemaps]", "scale=standard", "model=xgb",
    ]


def test_audformat_specified_split_uses_the_tables(tmp_path):
    tr = translate(_write(tmp_path, """\
        [EXP]
        name = emodb
        [DATA]
        databases = ['emodb']
        emodb = ./emodb/
        emodb.split_strategy = specified
        emodb.test_tables = ['emotion.categories.test.gold_standard']
        emodb.train_tables = ['emotion.categories.train.gold_standard']
        emodb.mapping = {'anger, sadness': 'negative', 'happiness': 'positive', 'no emotion': 'neutral'}
        target = emotion
        [FEATS]
        type = ['os']
        [MODEL]
        type = svm
        """), COMPONENTS)
    assert not tr.unsupported
    for o in ("+data@data.emodb_train=audformat", "data.emodb_train.role=train",
              "data.emodb_train.tables=[emotion.categories.train.gold_standard]", "data.emodb_test.role=test",
              "data.emodb_test.label_map={anger:negative,sadness:negative,happiness:positive,no emotion:neutral}", "split.method=given"):
        assert o in tr.overrides, o


def test_unsupported_keys_name_the_nearest_key_or_the_reason(tmp_path):
    tr = translate(_write(tmp_path, HEAD + "[FEATS]\ntype = ['os']\nscal = standard\n[MODEL]\ntype = svm\n"
                          "C_val = 1\nlayers = [8]\n[PLOT]\nuncertainty_threshold = 0.4\n[XYZ]\na = 1\n"), COMPONENTS)
    reasons = {u.key: (u.line, u.reason) for u in tr.unsupported}
    assert "did you mean scale" in reasons["FEATS.scal"][1] and reasons["FEATS.scal"][0] == 12
    assert "no such parameter" in reasons["MODEL.layers"][1]
    assert "uncertainty" in reasons["PLOT.uncertainty_threshold"][1]
    assert "not known" in reasons["XYZ.a"][1]
    with pytest.raises(UserError, match=r"not supported by nk.*FEATS.scal \(line 12\)"):
        tr.check()


def test_ignore_leaves_a_key_out_on_purpose(tmp_path):
    path = _write(tmp_path, HEAD + "[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[PLOT]\nuncertainty_threshold = 0.4\n")
    tr = translate(path, COMPONENTS, ignore=["PLOT.uncertainty_threshold"])
    tr.check()  # no error
    assert tr.ignored == ["PLOT.uncertainty_threshold"]
    assert tr.provenance()["ignored_keys"] == ["PLOT.uncertainty_threshold"]


def test_unknown_feature_or_model_is_unsupported(tmp_path):
    tr = translate(_write(tmp_path, HEAD + "[FEATS]\ntype = ['trill']\n[MODEL]\ntype = gmm\n"), COMPONENTS)
    keys = {u.key: u.reason for u in tr.unsupported}
    assert "'trill' is an nkululeko feature extractor nk does not have" in keys["FEATS.type"] and "not installed" in keys["MODEL.type"]


@pytest.mark.parametrize(("text", "message", "line"), [
    (HEAD + "labels = ['a', 'b'\n", "not a valid value", 10),
    (HEAD + "[EXP]\nruns = 1\n", "Section \\[EXP\\] appears twice", 10),
    ("[EXP]\nname = x\n[FEATS]\ntype = ['os']\n", "no \\[DATA\\] section", 1),
    ("[EXP]\nname = x\n[DATA]\ntarget = emotion\n", "has no databases key", None),
    ("name = x\n", "does not start with a section header", 1),
])
def test_malformed_files_are_user_errors_with_the_line(tmp_path, text, message, line):
    with pytest.raises(UserError, match=message) as info:
        translate(_write(tmp_path, text), COMPONENTS)
    if line is not None:
        assert f"exp.ini, line {line}" in info.value.message


def test_values_are_literals_never_eval():
    assert parse_value("['a', 'b']") == ["a", "b"]
    assert parse_value("{'a': 1}") == {"a": 1}
    assert parse_value("True") is True and parse_value("false") is False
    assert parse_value("0.5") == 0.5 and parse_value("svm") == "svm"
    assert parse_value("./data/x.csv") == "./data/x.csv"
    assert parse_value("['pesq', 'mos']#,'age'") == ["pesq", "mos"]  # a trailing comment
    assert parse_value("__import__('os').getcwd()") == "__import__('os').getcwd()"  # a bare string
    with pytest.raises(ValueError):
        parse_value("[1, 2")


def test_nk_ini_prints_where_each_key_went_and_check_fails_on_unsupported(nk_pm, tmp_path, capsys):
    good = _write(tmp_path, POLISH_INI, "polish.ini")
    assert main(["ini", str(good)], pm=nk_pm) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["command"].startswith("nk run 'data=[]' +data@data.train=csv")
    assert doc["keys"]["FEATS.type (line 22)"] == "feats=[egemaps]"
    assert main(["ini", "--check", str(good)], pm=nk_pm) == 0
    bad = _write(tmp_path, POLISH_INI + "[PLOT]\nuncertainty_threshold = 0.4\n", "bad.ini")
    capsys.readouterr()
    assert main(["ini", "--check", str(bad)], pm=nk_pm) == 2
    assert "PLOT.uncertainty_threshold (line 29)" in " ".join(capsys.readouterr().err.split())
    assert main(["ini", "--check", str(bad), "--ignore", "PLOT.uncertainty_threshold"], pm=nk_pm) == 0


POLISH_INI = """\
[EXP]
root = results/
name = exp_polish_os
[DATA]
databases = ['train', 'dev', 'test']
train = ./data/polish/polish_train.csv
train.type = csv
train.absolute_path = False
train.split_strategy = train
dev = ./data/polish/polish_dev.csv
dev.type = csv
dev.absolute_path = False
dev.split_strategy = train
test = ./data/polish/polish_test.csv
test.type = csv
test.absolute_path = False
test.split_strategy = test
target = emotion
# to get the labels automatically, uncomment line below
labels = ['anger', 'neutral', 'fear']
[FEATS]
type = ['os']
scale = standard
[MODEL]
type = xgb
[RESAMPLE]
replace = True
"""


def _polish_like(folder: Path) -> None:
    """A tiny Polish-like corpus as `nk data prepare polish` writes it (polish.csv with nkululeko's
    split: m1 test, m4 dev, the others train) and as nkululeko's three CSV files."""
    audio = folder / "POLISH"
    rows = []
    for spk in (2, 3, 5, 4, 1):  # train speakers first, then dev, then test: the same row order
        split = {1: "test", 4: "dev"}.get(spk, "train")
        for emo, f0 in (("anger", 200), ("fear", 240), ("neutral", 120)):
            for rep in (1, 2):
                wav = write_tone(audio / f"m{spk}.{emo}_{rep}.wav", f0=f0 + 7 * spk + 11 * rep, seconds=0.4)
                rows.append({"file": f"POLISH/{wav.name}", "speaker": f"POLISH_m{spk}", "gender": "male",
                             "emotion": emo, "split": split})
    table = pd.DataFrame(rows)
    table.to_csv(folder / "polish.csv", index=False)
    for split in ("train", "dev", "test"):
        table[table.split == split].drop(columns="split").to_csv(folder / f"polish_{split}.csv", index=False)


def test_run_config_polish_ini_equals_experiment_polish(nk_pm, tmp_path, monkeypatch, capsys):
    pytest.importorskip("opensmile")
    pytest.importorskip("xgboost")
    _polish_like(tmp_path / "data" / "polish")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    ini = _write(tmp_path, POLISH_INI, "polish.ini")
    # the sdist's exp.ini and experiment=polish: the same data, split, features and XGBoost
    assert main(["run", "experiment=polish", "n_jobs=1", "results_root=preset"], pm=nk_pm) == 0
    assert main(["run", "--config", str(ini), "n_jobs=1"], pm=nk_pm) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "polish.ini → nk run 'data=[]'" in out
    (preset,) = (tmp_path / "preset").glob("polish/*/results.json")
    (from_ini,) = (tmp_path / "results").glob("exp_polish_os/*/results.json")
    a, b = json.loads(preset.read_text()), json.loads(from_ini.read_text())
    assert a["test"]["uar"]["value"] == pytest.approx(b["test"]["uar"]["value"])

    def split(run: Path) -> dict[str, str]:
        pred = pd.read_csv(run.parent / "predictions.csv")
        return dict(zip(pred.file.map(lambda f: Path(f).name), pred.get("split", pd.Series(["test"] * len(pred))),
                        strict=True))

    assert split(preset) == split(from_ini)
    assert a["data"]["rows"] == b["data"]["rows"]
    cfg = yaml.safe_load((from_ini.parent / "config.yaml").read_text())
    assert cfg["provenance"]["nkululeko_ini"] == str(ini.resolve())
    assert any("eGeMAPSv02 functionals" in n for n in cfg["provenance"]["notes"])
    from nk.inference import load_run  # a run from an INI file predicts like any other

    wav = next((tmp_path / "data" / "polish" / "POLISH").glob("m1.*.wav"))
    assert len(load_run(from_ini.parent, pm=nk_pm).predict_files([str(wav)])) == 1


def test_python_m_nk_nkululeko_says_the_nk_command(tmp_path):
    ini = _write(tmp_path, HEAD + "[FEATS]\ntype = ['trill']\n[MODEL]\ntype = svm\n")
    proc = subprocess.run([sys.executable, "-m", "nk.nkululeko.nkululeko", "--config", str(ini)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert "running `nk run --config" in proc.stderr
    assert proc.returncode == 2 and "FEATS.type (line 11)" in " ".join(proc.stderr.split())


@pytest.mark.parametrize("snippet", [pytest.param(p.values[0], id=p.id) for p in TABLE if p.id in (
    "os-svm", "os-set", "praat-xgb-balance", "logo", "k_fold_cross", "flags-multirun", "optim-search", "report",
    "explore")])
def test_translations_compose_with_the_installed_plugins(nk_pm, tmp_path, snippet):
    """The overrides are valid nk config (Hydra syntax, keys, types, bounds), not just strings."""
    from nk.config import compose
    from nk.nkululeko import installed_components

    needed = {"opensmile", "praat", "xgboost"}
    if not needed <= {i.name for i in nk_pm.plugin_infos()}:
        pytest.skip("needs nk-opensmile, nk-praat and nk-xgboost")
    tr = translate(_write(tmp_path, _merge(snippet)), installed_components(nk_pm))
    assert not tr.unsupported
    jobs = tr.overrides
    cfg = compose([o.split(",")[0] if o.startswith(("model=svm,", "scale=none,")) else o for o in jobs], nk_pm)
    assert cfg.name == "exp_demo" and list(cfg.data) == ["emodb"] and cfg.data.emodb.loader == "csv"


def test_explore_config_composes_and_run_leaves_explore_keys_out(nk_pm, tmp_path, capsys):
    ini = _write(tmp_path, HEAD + "[FEATS]\ntype = ['praat']\n[MODEL]\ntype = svm\n[EXPL]\n"
                 "value_counts = [['gender']]\nscatter = ['pca']\n")
    assert main(["explore", "--config", str(ini), "--cfg"], pm=nk_pm) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "explore.columns=[gender]" in out and "- gender" in out
    assert main(["run", "--config", str(ini), "--cfg"], pm=nk_pm) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    command = next(line for line in out.splitlines() if " → nk run " in line)
    assert "explore.columns" not in command and "[EXPL] is for `nk explore --config`" in out


def test_name_with_a_folder_joins_the_root_and_sklearn_spellings(tmp_path):
    tr = translate(_write(tmp_path, HEAD.replace("root = ./results/\nname = exp_demo", "root = ./\nname = results/exp_x")
                          + "[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\ngamma = scale\n"), COMPONENTS)
    assert "results_root=results" in tr.overrides and "name=exp_x" in tr.overrides
    assert "model.gamma=null" in tr.overrides


#: (nkululeko sections appended to HEAD, the nk command the file is for, overrides that command
#: gets, overrides it must not get) — [PREDICT], [SEGMENT], [AUGMENT] and the seed paper's examples
SECTIONS = [
    pytest.param("[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[PREDICT]\ntargets = ['gender', 'age', 'snr']\n"
                 "sample_selection = all\n[EXPL]\nvalue_counts = [['gender_pred'], ['age_pred']]\n", "explore",
                 ["predict=[gender,age,snr]", "explore.columns=[gender_pred,age_pred]",
                  "predict.age.model=audeering/wav2vec2-large-robust-6-ft-age-gender"], ["prediction.split=all"],
                 id="seed-explore-predict"),
    pytest.param("[FEATS]\ntype = ['os']\n[PREDICT]\ntargets = ['snr', 'mos', 'speaker']\nsample_selection = test\n",
                 "predict", ["predict=[snr,mos,speaker]", "prediction.split=test"], ["explore.analyses"],
                 id="predict"),
    pytest.param("[SEGMENT]\nmethod = silero\nmax_length = 10\nmin_length = 1.5\noutput_audio = True\n", "segment",
                 ["segment=silero", "segment.max_segment=10.0", "segment.min_speech=1.5",
                  "segmentation.export_audio=true"], [], id="segment-silero"),
    pytest.param("[SEGMENT]\nmethod = silero\nmax_length = 8\n", "segment",
                 ["segment.max_segment=8.0", "segment.min_speech=2.0"], [], id="segment-nkululeko-min-length"),
    pytest.param("[SEGMENT]\nmethod = pyannote\nsegment_target = _segmented\nsample_selection = all\n", "segment",
                 ["segment=pyannote"], [], id="seed-pyannote-segment"),
    pytest.param("[AUGMENT]\naugment = ['traditional']\naugmentations = Compose([AddGaussianNoise(min_amplitude=0.001, "
                 "max_amplitude=0.05), Shift(p=0.5)])\nresult = augment.csv\n", "augment",
                 ["augment=audiomentations", "augment.transforms=[{name:AddGaussianNoise,min_amplitude:0.001,"
                  "max_amplitude:0.05},{name:Shift,p:0.5}]"], [], id="augment-traditional"),
    pytest.param("[AUGMENT]\naugment = ['random_splice']\nsample_selection = train\n", "augment",
                 ["augment=random_splice"], [], id="augment-random-splice"),
    pytest.param("[FEATS]\ntype = ['audwav2vec2']\n[MODEL]\ntype = svm\n", "run",
                 ["feats=[wav2vec2]", "feats.wav2vec2.model=audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim"],
                 [], id="audwav2vec2"),
    pytest.param("[FEATS]\ntype = ['wav2vec2']\nwav2vec2.layer = 0\n[MODEL]\ntype = svm\n", "run",
                 ["feats.wav2vec2.model=facebook/wav2vec2-large-robust-ft-swbd-300h", "feats.wav2vec2.layer=-1"], [],
                 id="wav2vec2-default-model"),
    pytest.param("[EXP]\nsample_selection = test\n[FEATS]\ntype = ['os']\n[PREDICT]\ntargets = ['snr']\n", "predict",
                 ["predict=[snr]", "prediction.split=test"], [], id="exp-sample-selection"),
]


@pytest.mark.parametrize(("snippet", "command", "expected", "absent"), SECTIONS)
def test_section_table(tmp_path, snippet, command, expected, absent):
    text = HEAD.replace("name = exp_demo\n", "name = exp_demo\n" + snippet.split("\n", 1)[1].split("[")[0]) + \
        "[" + snippet.split("\n", 1)[1].split("[", 1)[1] if snippet.startswith("[EXP]") else HEAD + snippet
    tr = translate(_write(tmp_path, text), COMPONENTS)
    assert not [u for u in tr.unsupported if u.applies(command)], [u.text() for u in tr.unsupported]
    assert tr.command == command
    got = tr.for_command(command)
    for override in expected:
        assert override in got, (override, got)
    for override in absent:
        assert not any(o.startswith(override) for o in got), (override, got)
    listed = {key for key, _, _ in tr.where} | {u.key for u in tr.unsupported}
    for section, keys in read_ini(tmp_path / "exp.ini").sections.items():
        for key in keys:  # every key went somewhere, or is said to be unsupported
            assert f"{section}.{key}" in listed, f"{section}.{key}"


def test_sections_go_only_to_the_commands_that_read_them(tmp_path):
    tr = translate(_write(tmp_path, HEAD + "[FEATS]\ntype = ['os']\n[MODEL]\ntype = svm\n[PREDICT]\n"
                          "targets = ['snr', 'text']\n[SEGMENT]\nmethod = silero\n[AUGMENT]\naugment = ['random_splice']\n"),
                   COMPONENTS)
    run = tr.for_command("run")
    assert not any(o.split("=")[0] in ("predict", "segment", "augment") for o in run)
    assert "augment=random_splice" in tr.for_command("aug_train") and "augment=random_splice" in tr.for_command("augment")
    assert "segment=silero" in tr.for_command("segment") and "segment=silero" not in tr.for_command("augment")
    assert tr.left_out("run") == ["PREDICT", "SEGMENT", "AUGMENT"]
    tr.check("run")  # [PREDICT] targets 'text' does not stop `nk run` (nkululeko's run does not read it) …
    with pytest.raises(UserError, match=r"PREDICT.targets \(line \d+\): target 'text': nk has no speech-to-text"):
        tr.check("predict")  # … but stops `nk predict`
    with pytest.raises(UserError, match=r"PREDICT\.targets"):
        tr.check()  # `nk ini --check` checks every key
    assert tr.nk_command("aug_train").startswith("nk run ") and "augment=random_splice" in tr.nk_command("aug_train")


@pytest.mark.parametrize(("snippet", "key", "reason"), [
    ("[AUGMENT]\naugment = ['auglib']\n", "AUGMENT.augment", "no auglib augmenter"),
    ("[AUGMENT]\naugment = ['traditional', 'random_splice']\n", "AUGMENT.augment", "one augmenter per run"),
    ("[AUGMENT]\naugment = ['traditional']\naugmentations = Compose([Shift(0.5)])\n", "AUGMENT.augmentations",
     "give its arguments by name"),
    ("[AUGMENT]\naugment = ['traditional']\naugmentations = __import__('os').system('x')\n", "AUGMENT.augmentations",
     "not a transform call"),
    ("[SEGMENT]\nmethod = inaspeechsegmenter\n", "SEGMENT.method", "no inaspeechsegmenter"),
    ("[PREDICT]\ntargets = ['translation']\n", "PREDICT.targets", "no text translation"),
    ("[FEATS]\ntype = ['audmodel']\n", "FEATS.type", "did you mean audwav2vec2"),
    ("[FEATS]\ntype = ['hubert']\n", "FEATS.type", "names no model"),
    ("[FEATS]\ntype = ['wav2vec2', 'audwav2vec2']\n", "FEATS.type", "twice"),
    ("[FEATS]\ntype = ['sptk']\nsptk.n_channel = 3\n", "FEATS.sptk.n_channel", "nkululeko's sptk extractor"),
    ("[MODEL]\ntype = adm\nadm.fusion = concat\n", "MODEL.adm.fusion", "MODEL.type 'adm', which is not an nk model"),
])
def test_unsupported_section_keys_say_why(tmp_path, snippet, key, reason):
    tr = translate(_write(tmp_path, HEAD + snippet), COMPONENTS)
    reasons = {u.key: u.reason for u in tr.unsupported}
    assert reason in reasons.get(key, ""), reasons


def test_keys_nkululeko_itself_does_not_read_have_no_effect(tmp_path):
    tr = translate(_write(tmp_path, HEAD + "emodb.testsplit = 20\nage_bins = 2\n[FEATS]\ntype = ['os']\n[MODEL]\n"
                          "type = svm\n[PLOT]\nsample_selection = all\n"), COMPONENTS)
    assert not tr.unsupported
    where = {k: w for k, _, w in tr.where}
    assert where["DATA.emodb.testsplit"].startswith("no effect: nkululeko 1.14.1 does not read this key")
    assert "does not read" in where["DATA.age_bins"] and "does not read" in where["PLOT.sample_selection"]


def test_semantic_differences_are_notes(tmp_path):
    tr = translate(_write(tmp_path, HEAD + "[FEATS]\ntype = ['wav2vec2-large-robust']\nwav2vec2.layer = 4\n[MODEL]\n"
                          "type = svm\n[PREDICT]\ntargets = ['mos']\n[AUGMENT]\naugment = ['random_splice']\n"),
                   COMPONENTS)
    notes = " ".join(tr.notes)
    assert "drops the top N transformer layers" in notes and "feats.wav2vec2.layer=-5" in tr.overrides
    assert "DNSMOS" in notes and "training rows only" in notes and "fixed-length random chunks" in notes
    run = " ".join(tr.notes_for("run"))  # a section's notes go to the commands that read it
    assert "drops the top N" in run and "DNSMOS" not in run and "training rows only" not in run
    assert "training rows only" in " ".join(tr.notes_for("aug_train")) and "DNSMOS" in " ".join(tr.notes_for("explore"))


def test_duplicate_key_is_an_error_with_its_line(tmp_path):
    with pytest.raises(UserError, match="Key 'target' appears twice in section \\[DATA\\]") as info:
        translate(_write(tmp_path, HEAD + "target = age\n"), COMPONENTS)
    assert "exp.ini, line 10" in info.value.message


def test_predict_segment_augment_take_config(nk_pm, tmp_path, capsys):
    """`nk predict|segment|augment --config exp.ini` and `nk run --config … --aug-train` compose."""
    installed = {i.name for i in nk_pm.plugin_infos()}
    if not {"predict", "silero", "audiomentations"} <= installed:
        pytest.skip("needs nk-predict, nk-silero and nk-audiomentations")
    ini = _write(tmp_path, HEAD + "[FEATS]\ntype = ['mfcc']\n[MODEL]\ntype = svm\n[PREDICT]\ntargets = ['snr']\n"
                 "sample_selection = test\n[SEGMENT]\nmethod = silero\nmax_length = 6\n[AUGMENT]\n"
                 "augment = ['random_splice']\n")
    for command, wanted in (("predict", "split: test"), ("segment", "max_segment: 6.0"),
                            ("augment", "name: random_splice")):
        assert main([command, "--config", str(ini), "--cfg"], pm=nk_pm) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert f"→ nk {command} " in out and wanted in out, (command, out)
    assert main(["run", "--config", str(ini), "--aug-train", "--cfg"], pm=nk_pm) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "name: random_splice" in out and "[PREDICT] is for `nk predict --config" in out
    assert main(["run", "--config", str(ini), "--cfg"], pm=nk_pm) == 0
    out = capsys.readouterr().out
    assert "name: random_splice" not in out and "[AUGMENT] is for `nk augment --config" in out


def test_ensemble_of_ini_files_takes_their_latest_runs(nk_pm, tmp_path, monkeypatch, capsys):
    """The seed paper's `nkululeko.ensemble --method max_class a.ini b.ini`."""
    _polish_like(tmp_path / "data" / "polish")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    base = POLISH_INI.replace("[FEATS]\ntype = ['os']", "[FEATS]\ntype = ['mfcc']")
    a = _write(tmp_path, base.replace("type = xgb", "type = svm").replace("exp_polish_os", "a"), "a.ini")
    b = _write(tmp_path, base.replace("type = xgb", "type = knn").replace("exp_polish_os", "b"), "b.ini")
    for ini in (a, b):
        assert main(["run", "--config", str(ini), "n_jobs=1", "bootstrap.n_resamples=100"], pm=nk_pm) == 0, \
            capsys.readouterr().err
    capsys.readouterr()
    assert main(["ensemble", "--method", "max_class", str(a), str(b), "bootstrap.n_resamples=100"], pm=nk_pm) == 0, \
        capsys.readouterr().err
    out = " ".join(capsys.readouterr().out.split())
    (run_a,) = (tmp_path / "results" / "a").iterdir()
    assert f"a.ini: the latest finished run of experiment 'a' → {run_a.resolve()}" in out
    assert "ensemble max_class" in out


def test_aug_train_entry_passes_the_flag(monkeypatch):
    from nk.nkululeko import _entry

    seen: list[list[str]] = []
    monkeypatch.setattr("nk.cli.main", lambda argv: seen.append(list(argv)) or 0)
    assert _entry.main("run", "aug_train", ["--config", "exp.ini"], extra=["--aug-train"]) == 0
    assert seen == [["run", "--config", "exp.ini", "--aug-train"]]


SEGMENT_SPEAKER_INI = """\
; nkululeko's examples/exp_emodb_segment_speaker.ini (the pyannote segment example)
[EXP]
root = ./examples/results/
name = exp_emodb_segment_speaker
runs = 1
epochs = 1
save = True
[DATA]
databases = ['emodb']
emodb = ./data/emodb/emodb
emodb.split_strategy = random
target = emotion
labels = ['anger', 'happiness', 'neutral', 'sadness']
[SEGMENT]
method = pyannote
segment_target = _segmented
sample_selection = all
[MODEL]
; hf_token = <your_huggingface_token>
device = cuda
[FEATS]
type = ['os']
scale = standard
"""


def test_the_pyannote_segment_example(tmp_path):
    tr = translate(_write(tmp_path, SEGMENT_SPEAKER_INI), {**COMPONENTS, "segment": {
        **COMPONENTS["segment"], "pyannote": ["pipeline", "token", "n_speakers", "device"]}})
    assert not tr.unsupported, [u.text() for u in tr.unsupported]
    assert tr.command == "segment"
    got = tr.for_command("segment")
    assert "segment=pyannote" in got and "segment.device=cuda" in got and "split.method=random" in got
    assert "segment.device=cuda" not in tr.for_command("run")
    assert any("HF_TOKEN" in n for n in tr.notes)


def test_a_token_in_the_ini_file_is_refused_and_never_echoed(tmp_path):
    tr = translate(_write(tmp_path, SEGMENT_SPEAKER_INI.replace("; hf_token = <your_huggingface_token>",
                                                                "hf_token = hf_SECRET123")), COMPONENTS)
    (bad,) = [u for u in tr.unsupported if u.key == "MODEL.hf_token"]
    assert "export HF_TOKEN" in bad.reason
    assert "hf_SECRET123" not in " ".join([*tr.overrides, *(u.text() for u in tr.unsupported), *tr.notes,
                                           *(w for _, _, w in tr.where)])
