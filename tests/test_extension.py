"""Third-party plugins extend every kind and the command line without touching core."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pandas as pd
import pytest
from rich.console import Console

from nk import hookimpl
from nk.cli import main
from nk.config import selected
from nk.data import Corpus
from nk.pipeline import run_experiment
from nk.registry import param
from nk.testing import LoaderContract, ReporterContract


@dataclass
class TonesConfig:
    n_speakers: int = param(6, ge=4, help="speakers to synthesise")


class Tones:
    """A loader reading nk.testing's tiny corpus (pitch classes 'low'/'high')."""

    def __init__(self, *, n_speakers: int) -> None:
        self.n_speakers = n_speakers

    def load(self, ctx):
        from nk.testing import write_tiny_corpus

        frame = write_tiny_corpus(ctx.work_dir / "tones", n_speakers=self.n_speakers)
        return Corpus(frame=frame, name="tones", default_target="label")


@dataclass
class SummaryConfig:
    filename: str = param("summary.txt", help="file written into the run folder")


class Summary:
    def __init__(self, *, filename: str) -> None:
        self.filename = filename

    def report(self, result, ctx):
        path = ctx.run_dir / self.filename
        path.write_text(f"{result['summary']}\n")
        return [path]


@dataclass
class ConstantConfig:
    value: str = param("unknown", help="the value predicted for every row")


class Constant:
    def __init__(self, *, value: str) -> None:
        self.value = value

    def predict(self, frame, ctx):
        return pd.DataFrame({"constant": self.value}, index=frame.index)


@dataclass
class VoteConfig:
    """No parameters."""


class Vote:
    def combine(self, predictions, ctx):
        stacked = pd.concat([p["pred"] for p in predictions], axis=1)
        out = predictions[0][["truth"]].copy()
        out["pred"] = stacked.mode(axis=1)[0]
        return out


class ThirdParty:
    @hookimpl
    def nk_register_loaders(self, register):
        register("tones", Tones, TonesConfig, description="tiny synthetic tones")

    @hookimpl
    def nk_register_reporters(self, register):
        register("summary", Summary, SummaryConfig, description="one-line summary file")

    @hookimpl
    def nk_register_predictors(self, register):
        register("constant", Constant, ConstantConfig, description="predicts a constant")

    @hookimpl
    def nk_register_ensemblers(self, register):
        register("vote", Vote, VoteConfig, description="majority vote")

    @hookimpl
    def nk_add_commands(self, subparsers: argparse._SubParsersAction) -> None:
        hello = subparsers.add_parser("hello", help="say hello")
        hello.add_argument("who")
        hello.set_defaults(handler=lambda args, app: app.console.print(f"hello {args.who}") or 0)


def test_third_party_components_join_every_group(nk_pm, nk_register_plugin, nk_compose):
    nk_register_plugin(ThirdParty(), name="nk-third")
    cfg = nk_compose(["data=tones", "report=[plots,summary]", "predict=constant", "ensemble=vote"])
    assert selected(cfg, "data")[0][0] == "tones"
    assert [n for n, _ in selected(cfg, "report")] == ["plots", "summary"]
    assert selected(cfg, "predict") == [("constant", {"value": "unknown"})]
    assert selected(cfg, "ensemble") == [("vote", {})]


def test_third_party_loader_and_reporter_run(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(ThirdParty(), name="nk-third")
    cfg = nk_compose(["data=tones", "feats=mfcc", "report=[plots,summary]", "n_jobs=1",
                      "split.test_size=0.5"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert (run_dir / "summary.txt").read_text().startswith("UAR")
    assert results["test"]["uar"]["value"] > 0.7  # pitch classes are easy
    assert "summary.txt" in results["artefacts"]


def test_third_party_predictor_and_ensembler(nk_pm, nk_register_plugin):
    nk_register_plugin(ThirdParty(), name="nk-third")
    index = pd.Index(["/a.wav", "/b.wav"], name="file")
    out = nk_pm.registry.get("predict", "constant").build({"value": "x"}).predict(pd.DataFrame(index=index), None)
    assert list(out["constant"]) == ["x", "x"]
    preds = [pd.DataFrame({"truth": ["a", "b"], "pred": p}, index=index) for p in (["a", "a"], ["a", "b"], ["b", "b"])]
    voted = nk_pm.registry.get("ensemble", "vote").build({}).combine(preds, None)
    assert list(voted["pred"]) == ["a", "b"]


def test_plugin_adds_a_subcommand(nk_pm, nk_register_plugin, capsys):
    nk_register_plugin(ThirdParty(), name="nk-third")
    assert main(["hello", "world"], pm=nk_pm) == 0
    assert "hello world" in capsys.readouterr().out


class TestTonesLoader(LoaderContract):
    name = "tones"
    plugin = ThirdParty()


class TestSummaryReporter(ReporterContract):
    name = "summary"
    plugin = ThirdParty()


# --- a plugin with a component of every kind and a command with its own config section ----------


@dataclass
class NoParams:
    """No parameters."""


class HalfSegmenter:
    def segment(self, frame, ctx):
        files = frame.index
        index = pd.MultiIndex.from_arrays(
            [files, pd.to_timedelta([0.0] * len(files), unit="s"), pd.to_timedelta([0.2] * len(files), unit="s")],
            names=["file", "start", "end"])
        return pd.DataFrame(frame.to_numpy(), index=index, columns=frame.columns)


class CopyAugmenter:
    def augment(self, frame, ctx):
        import shutil

        segmented = isinstance(frame.index, pd.MultiIndex)
        files = list(frame.index.get_level_values("file")[:2])
        copies = []
        for file in files:
            copies.append(str(ctx.work_dir / f"copy-{len(copies)}.wav"))
            shutil.copy(file, copies[-1])
        out = frame.iloc[:2].copy()
        if segmented:
            out.index = pd.MultiIndex.from_arrays(
                [copies, out.index.get_level_values("start"), out.index.get_level_values("end")],
                names=["file", "start", "end"])
        else:
            out.index = pd.Index(copies, name="file")
        out["augmented_from"] = files
        return out


@dataclass
class PeakConfig:
    scale: float = param(1.0, gt=0, help="multiplies the peak")


class Peak:
    process_safe = True
    sampling_rate = None

    def __init__(self, *, scale: float) -> None:
        self.scale = scale

    def feature_names(self):
        return ["peak"]

    def extract(self, signal, sampling_rate):
        import numpy as np

        return np.array([self.scale * float(abs(signal).max())], dtype="float32")


def majority():
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent")


class Recipe:
    def prepare(self, dest, *, source, console):
        dest.mkdir(parents=True, exist_ok=True)
        table = dest / "table.csv"
        table.write_text("file,label\n")
        return table


@dataclass
class GreetConfig:
    greeting: str = param("hello", help="the word said first")
    times: int = param(1, ge=1, help="how often")


class EveryKind:
    """Registers one component of each kind in nk.kinds.KINDS, a config section and a command."""

    @hookimpl
    def nk_register_loaders(self, register):
        register("tones2", Tones, TonesConfig, description="tiny synthetic tones")

    @hookimpl
    def nk_register_segmenters(self, register):
        register("half", HalfSegmenter, NoParams, description="first 0.2 s of each file")

    @hookimpl
    def nk_register_augmenters(self, register):
        register("copy", CopyAugmenter, NoParams, description="copies two files")

    @hookimpl
    def nk_register_featurizers(self, register):
        register("peak", Peak, PeakConfig, description="peak amplitude")

    @hookimpl
    def nk_register_learners(self, register):
        register("majority", majority, NoParams, description="predicts the most frequent class")

    @hookimpl
    def nk_register_predictors(self, register):
        register("constant2", Constant, ConstantConfig, description="predicts a constant")

    @hookimpl
    def nk_register_ensemblers(self, register):
        register("vote2", Vote, VoteConfig, description="majority vote")

    @hookimpl
    def nk_register_reporters(self, register):
        register("summary2", Summary, SummaryConfig, description="one-line summary file")

    @hookimpl
    def nk_register_datasets(self, register):
        register("empty", Recipe, NoParams, description="an empty table")

    @hookimpl
    def nk_add_config_sections(self, add):
        add("greet", GreetConfig, help="options of `nk greet`")

    @hookimpl
    def nk_add_commands(self, subparsers: argparse._SubParsersAction) -> None:
        greet = subparsers.add_parser("greet", help="greets, as configured")
        greet.add_argument("overrides", nargs="*")
        greet.set_defaults(handler=_greet)


def _greet(args, app):
    from nk.config import compose

    cfg = compose(list(args.overrides), app.pm)
    app.console.print(" ".join([cfg.greet.greeting] * cfg.greet.times))
    return 0


def test_a_plugin_extends_every_kind_and_adds_a_command_with_its_config(nk_pm, nk_register_plugin,
                                                                         nk_compose, capsys, tmp_path):
    from nk.kinds import KINDS, registry_group

    nk_register_plugin(EveryKind(), name="nk-every")
    registry = nk_pm.registry
    names = {"data": "tones2", "segment": "half", "augment": "copy", "feats": "peak", "model": "majority",
             "predict": "constant2", "ensemble": "vote2", "report": "summary2", "dataset": "empty"}
    for kind in KINDS:  # one component of each kind, checked against its Protocol when built
        comp = registry.get(registry_group(kind), names[registry_group(kind)])
        assert comp.provider == "nk-every"
        assert isinstance(comp.build(comp.defaults()), kind.protocol)
    cfg = nk_compose(["data=tones2", "segment=half", "augment=copy", "feats=peak", "model=majority",
                      "predict=[constant2]", "ensemble=vote2", "report=[summary2]", "greet.times=2"])
    assert cfg.greet.times == 2 and cfg.feats.peak.scale == 1.0
    assert main(["greet", "greet.greeting=hi", "greet.times=3"], pm=nk_pm) == 0
    assert "hi hi hi" in capsys.readouterr().out
    # the section is checked like core's own: a typo or a bad bound is a user error
    assert main(["greet", "greet.timez=3"], pm=nk_pm) == 2
    assert "greet.timez" in capsys.readouterr().err
    assert main(["greet", "greet.times=0"], pm=nk_pm) == 2
    assert "greet.times" in capsys.readouterr().err


def test_a_plugin_runs_with_every_stage(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(EveryKind(), name="nk-every")
    cfg = nk_compose(["data=tones2", "segment=half", "augment=copy", "feats=peak", "model=majority",
                      "report=[summary2]", "n_jobs=1", "split.test_size=0.5"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert results["components"]["segment"] == ["half"] and results["components"]["augment"] == ["copy"]
    assert (run_dir / "summary.txt").exists()


def test_a_section_may_not_shadow_core_keys(nk_pm, nk_register_plugin, nk_compose):
    import pytest

    from nk.errors import PluginError

    class Bad:
        @hookimpl
        def nk_add_config_sections(self, add):
            add("split", GreetConfig)

    nk_register_plugin(Bad(), name="nk-bad")
    with pytest.raises(PluginError, match="clashes with a key of nk's own config"):
        nk_compose([])


def test_a_component_that_breaks_its_protocol_names_itself(nk_pm, nk_register_plugin):
    import pytest

    from nk.errors import ContractError

    class Broken:
        @hookimpl
        def nk_register_featurizers(self, register):
            register("broken", lambda: object(), NoParams, description="returns no featurizer")

    nk_register_plugin(Broken(), name="nk-broken")
    with pytest.raises(ContractError, match=r"featurizer 'broken' from nk-broken .*lacks extract, "
                                            r"feature_names.*nk.api.Featurizer"):
        nk_pm.registry.get("feats", "broken").build({})


class TwoHalves:
    """Cuts every file into two segments (the demo files are longer than 0.6 s)."""

    def segment(self, frame, ctx):
        rows, index = [], []
        for file, row in frame.iterrows():
            for start, end in ((0.0, 0.3), (0.3, 0.6)):
                index.append((file, pd.Timedelta(seconds=start), pd.Timedelta(seconds=end)))
                rows.append(row)
        return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["file", "start", "end"]))


class HalvesPlugin:
    @hookimpl
    def nk_register_segmenters(self, register):
        register("halves", TwoHalves, NoParams, description="two segments per file")


@pytest.mark.parametrize("aggregate", ["mean", "majority"])
def test_segment_predictions_are_evaluated_per_file(nk_pm, nk_register_plugin, nk_compose, tmp_path, aggregate):
    nk_register_plugin(HalvesPlugin(), name="nk-halves")
    cfg = nk_compose(["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1", "segment=halves",
                      "evaluate.level=file", f"evaluate.aggregate={aggregate}"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    files = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    segments = pd.read_csv(run_dir / "predictions_segments.csv")
    assert len(segments) == 2 * len(files) and (files["segments"] == 2).all()
    assert results["test"]["n"] == len(files)
    assert results["evaluation_level"].startswith("file")


def test_per_file_evaluation_needs_segments(nk_pm, nk_compose, tmp_path):
    from nk.errors import UserError

    cfg = nk_compose(["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1", "evaluate.level=file"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(UserError, match="aggregates segments, but the rows are whole files"):
        run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
