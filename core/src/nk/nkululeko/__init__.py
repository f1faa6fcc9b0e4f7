"""nkululeko INI files in nk: ``nk ini exp.ini``, ``nk run --config exp.ini``.

:func:`translate` reads an nkululeko experiment file (``[EXP] [DATA] [FEATS] [MODEL] …``, values
as Python literals, read with :func:`ast.literal_eval`, never ``eval``) and returns the nk
command it amounts to: Hydra overrides, for each INI key where it went, and notes on where nk
behaves differently on purpose. Every key is either mapped, explained as having no effect in
nk, or reported as unsupported with the nearest supported key or the reason; nothing is dropped
silently. The translation needs only the names and parameters of the installed components
(:class:`Components`), so it is cheap and testable without running anything.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nk.errors import UserError

#: group → component name → its parameter names (what the translation may target)
Components = Mapping[str, Mapping[str, Sequence[str]]]


def installed_components(pm: Any) -> dict[str, dict[str, list[str]]]:
    """The :data:`Components` of a plugin manager's registry."""
    out: dict[str, dict[str, list[str]]] = {}
    for comp in pm.registry:
        out.setdefault(str(comp.group), {})[comp.name] = [p.name for p in comp.params()]
    return out


@dataclass
class Unsupported:
    """An INI key nk cannot run: why, and the nearest key nk does support (a typo)."""

    key: str
    line: int
    reason: str
    #: the nk commands the key matters for (None: every command)
    commands: frozenset[str] | None = None

    def text(self) -> str:
        return f"{self.key} (line {self.line}): {self.reason}"

    def applies(self, command: str | None) -> bool:
        return command is None or self.commands is None or command in self.commands


#: the nkululeko modules that read a section, as nk commands (``aug_train`` is ``nk run
#: --config … --aug-train``); a section not listed here is read by every module
SECTION_COMMANDS: dict[str, frozenset[str]] = {
    "EXPL": frozenset({"explore"}),
    "PREDICT": frozenset({"predict", "explore"}),
    "SEGMENT": frozenset({"segment"}),
    "AUGMENT": frozenset({"augment", "aug_train"}),
}
#: the nk config keys (the first part of an override) that only some commands use
OVERRIDE_COMMANDS: dict[str, frozenset[str]] = {
    "explore": frozenset({"explore"}),
    "predict": frozenset({"predict", "explore"}),
    "prediction": frozenset({"predict"}),
    "segment": frozenset({"segment"}),
    "segmentation": frozenset({"segment"}),
    "augment": frozenset({"augment", "aug_train"}),
    "augmentation": frozenset({"augment"}),
}


def _override_root(override: str) -> str:
    return re.split(r"[.=@]", override.lstrip("+~"), maxsplit=1)[0]


@dataclass
class Translation:
    """What an INI file amounts to in nk."""

    path: str
    command: str = "run"
    overrides: list[str] = field(default_factory=list)
    multirun: bool = False
    #: (INI key, line, where it went) in file order
    where: list[tuple[str, int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    #: the INI file's sections
    sections: list[str] = field(default_factory=list)

    def nk_command(self, command: str | None = None) -> str:
        """The equivalent shell command line."""
        import shlex

        command = command or self.command
        overrides = self.for_command(command)
        if command == "aug_train":
            command = "run"
        words = ["nk", command, *(["-m"] if self.multirun and command == "run" else []), *overrides]
        return " ".join(shlex.quote(w) for w in words)

    def provenance(self, command: str | None = None) -> dict[str, Any]:
        """What a run's config.yaml records about the translation."""
        return {
            "nkululeko_ini": str(Path(self.path).resolve()),
            "nk_command": self.nk_command(command),
            "ignored_keys": list(self.ignored),
            "notes": self.notes_for(command or self.command),
        }

    def check(self, command: str | None = None) -> None:
        """Raise a :class:`UserError` listing every unsupported key (that ``command`` reads;
        None: every key of the file)."""
        bad = [u for u in self.unsupported if u.applies(command)]
        if not bad:
            return
        listing = "; ".join(u.text() for u in bad)
        raise UserError(
            f"{len(bad)} key(s) of {self.path} are not supported by nk: {listing}",
            where=self.path,
            todo="fix or remove these keys, or pass --ignore KEY (e.g. --ignore "
                 f"{bad[0].key}) to run without them",
        )

    def for_command(self, command: str) -> list[str]:
        """The overrides that ``nk COMMAND`` uses (``aug_train``: nk run with [AUGMENT])."""
        return [o for o in self.overrides
                if command in OVERRIDE_COMMANDS.get(_override_root(o), frozenset({command}))]

    def notes_for(self, command: str) -> list[str]:
        """The notes about what ``nk COMMAND`` reads (a section's notes only for its commands)."""
        def reads(note: str) -> bool:
            section = next((s for s in SECTION_COMMANDS if note.startswith(f"{s} ")), None) or NOTE_SECTIONS.get(note)
            return section is None or command in SECTION_COMMANDS[section]

        return [n for n in self.notes if reads(n)]

    def left_out(self, command: str) -> list[str]:
        """The sections with keys that ``nk COMMAND`` does not read (told, never silent)."""
        keys = [k for k, _, _ in self.where] + [u.key for u in self.unsupported]
        return [s for s, cmds in SECTION_COMMANDS.items()
                if command not in cmds and any(k.startswith(f"{s}.") for k in keys)]


# ---------------------------------------------------------------------------------------------
# reading


def parse_value(text: str) -> Any:
    """An nkululeko value: a Python literal (list, dict, number, bool, quoted string) or a bare
    string. Raises ValueError for text that looks like a literal but is not one."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        if stripped[:1] in "[{(\"'":
            raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        return stripped.split("#")[0].strip() if " #" in stripped else stripped


@dataclass
class IniFile:
    """The parsed file: section → key → (value, line)."""

    path: str
    sections: dict[str, dict[str, tuple[Any, int]]]

    def get(self, section: str, key: str, default: Any = None) -> Any:
        entry = self.sections.get(section, {}).get(key)
        return default if entry is None else entry[0]


_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^([^=:;#\s][^=:]*?)\s*[=:]")


def read_ini(path: str | os.PathLike[str]) -> IniFile:
    """Parse an nkululeko INI file; malformed files raise a :class:`UserError` with the line."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read the INI file {where!r}: {exc}", where=where,
                        todo="give the path of an nkululeko experiment file (exp.ini)") from None
    parser = configparser.ConfigParser(interpolation=None, strict=True, inline_comment_prefixes=None)
    try:
        parser.read_string(text, source=where)
    except configparser.DuplicateSectionError as exc:
        raise UserError(f"Section [{exc.section}] appears twice", where=f"{where}, line {exc.lineno}",
                        todo="merge the two sections into one") from None
    except configparser.DuplicateOptionError as exc:
        raise UserError(f"Key {exc.option!r} appears twice in section [{exc.section}]",
                        where=f"{where}, line {exc.lineno}", todo="keep one of them") from None
    except configparser.MissingSectionHeaderError as exc:
        raise UserError("The file does not start with a section header such as [EXP]",
                        where=f"{where}, line {exc.lineno}", todo="start the file with [EXP]") from None
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else "?"
        raise UserError(f"Cannot parse the INI file: {str(exc).splitlines()[-1].strip()}",
                        where=f"{where}, line {line}", todo="write each setting as key = value") from None
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        head = _SECTION.match(line)
        if head:
            section = head.group(1).strip()
            continue
        found = _KEY.match(line)
        if found and section:
            lines.setdefault((section, parser.optionxform(found.group(1).strip())), number)
    sections: dict[str, dict[str, tuple[Any, int]]] = {}
    for name in parser.sections():
        sections[name] = {}
        for key, raw in parser.items(name, raw=True):
            line = lines.get((name, key), 0)
            try:
                value = parse_value(raw)
            except ValueError as exc:
                raise UserError(f"[{name}] {key} = {raw.strip()} is not a valid value ({exc})",
                                where=f"{where}, line {line}",
                                allowed="Python literals (['a', 'b'], {'a': 'b'}, 1, 0.5, True) or a bare word",
                                todo="close the brackets and quote the strings") from None
            sections[name][key] = (value, line)
    if "DATA" not in sections:
        raise UserError("The INI file has no [DATA] section", where=f"{where}, line 1",
                        todo="add [DATA] with databases = ['name'] and name = path/to/table.csv")
    return IniFile(path=where, sections=sections)


# ---------------------------------------------------------------------------------------------
# the tables

#: nkululeko scalers → nk scale
SCALERS = {"standard": "standard", "robust": "robust", "minmax": "minmax", "maxabs": "maxabs",
           "speaker": "speaker", "none": "none", "false": "none"}
#: nkululeko FEATS.balancing → nk balance
BALANCERS = {"ros": "ros", "randomoversampler": "ros", "rus": "rus", "randomundersampler": "rus",
             "smote": "smote", "adasyn": "adasyn", "borderlinesmote": "borderline_smote",
             "svmsmote": "svm_smote", "smoteenn": "smoteenn", "smotetomek": "smotetomek",
             "clustercentroids": "cluster_centroids", "tomeklinks": "tomek",
             "editednearestneighbours": "enn", "none": "none"}
#: nkululeko MODEL.type → nk model (same name otherwise)
MODELS = {"svm": "svm", "svr": "svr", "knn": "knn", "knn_reg": "knn_reg", "tree": "tree",
          "tree_reg": "tree_reg", "xgb": "xgb", "xgr": "xgr", "bayes": "bayes", "mlp": "mlp",
          "mlp_reg": "mlp_reg", "cnn": "cnn", "finetune": "finetune", "lin_reg": "lin_reg",
          "log_reg": "log_reg", "random_forest": "random_forest"}
#: nkululeko model parameter → nk parameter names to try, in order
MODEL_PARAMS = {"c_val": ["C"], "c": ["C"], "kernel": ["kernel"], "gamma": ["gamma"], "k_val": ["n_neighbors"],
                "knn_weights": ["weights"], "n_estimators": ["n_estimators"], "max_depth": ["max_depth"],
                "learning_rate": ["learning_rate", "lr"], "subsample": ["subsample"],
                "class_weight": ["class_weight"], "layers": ["layers", "hidden"], "drop": ["dropout", "drop"],
                "batch_size": ["batch_size"], "patience": ["patience"], "loss": ["loss"],
                "device": ["device"], "n_jobs": ["n_jobs"], "weight_decay": ["weight_decay"],
                "optimizer": ["optimizer"], "early_stopping_rounds": ["early_stopping_rounds"],
                "random_state": ["random_state"], "pretrained_model": ["model", "pretrained_model"]}
#: OPTIM's short names → nkululeko MODEL keys
OPTIM_ALIASES = {"lr": "learning_rate", "bs": "batch_size", "do": "drop", "c_val": "c_val"}
#: nkululeko feature extractors → nk components (a name with a dash: the component before it,
#: with the model named by the whole)
FEATURES = {"os": "egemaps", "praat": "praat", "mfcc": "mfcc", "wav2vec2": "wav2vec2", "hubert": "hubert",
            "wavlm": "wavlm", "whisper": "whisper", "data2vec": "data2vec"}
#: nkululeko's extractors nk has no counterpart for (named as such in the error)
NKULULEKO_ONLY_FEATURES = frozenset({
    "audmodel", "audwav2vec2", "agender", "emotion2vec", "spkrec", "bert", "sptk", "trill", "mld", "spectra",
    "snr", "mos", "squim", "import", "clap", "xbow", "opensmile_lld", "ast", "pesq", "stoi", "sdr", "wav2vec",
    "whisper_text", "text", "mms", "qwen", "phonemes"})
#: the Hugging Face organisation of nkululeko's model names (wav2vec2-large-robust → facebook/…)
HF_ORGS = {"wav2vec2": "facebook", "hubert": "facebook", "wavlm": "microsoft", "whisper": "openai",
           "data2vec": "facebook"}
#: nkululeko's wav2vec2-like extractors that load audEERING's models (Zenodo/ONNX in nkululeko):
#: the same networks on the Hugging Face hub, read by nk's wav2vec2 component
AUDEERING_MODELS = {"audwav2vec2": "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim",
                    "agender": "audeering/wav2vec2-large-robust-6-ft-age-gender"}
#: nkululeko's default model of an extractor named without one (FEATS.type = ['wav2vec2'])
DEFAULT_MODELS = {"wav2vec2": "facebook/wav2vec2-large-robust-ft-swbd-300h", "whisper": "openai/whisper-base"}
#: extractors whose ``<x>.layer`` counts the transformer layers dropped from the top
LAYER_FROM_TOP = frozenset({"wav2vec2", "hubert", "wavlm"})
#: nkululeko extractors nk lacks, with the precise reason (the rest: "nk does not have")
MISSING_FEATURE_REASONS = {
    "audmodel": "nkululeko renamed audmodel to audwav2vec2 (which nk maps); audmodel now loads an audEERING "
                "model by FEATS.audmodel.id with the audmodel package from audEERING's own repository, which nk "
                "does not read (nkululeko 1.14.1 stops without the id too); did you mean audwav2vec2?",
    "auddim": "it is the arousal/dominance/valence output of audEERING's model: nk predicts those with "
              "`nk predict 'predict=[arousal,dominance,valence]'`, not as features",
    "agender_agender": "it is the age/gender output of audEERING's model: nk predicts those with "
                       "`nk predict 'predict=[age,gender]'`, not as features",
    "emotion2vec": "emotion2vec needs FunASR, which nk does not use",
    "spkrec": "SpeechBrain speaker embeddings are not in nk",
    "bert": "text features (BERT on transcripts) are not part of nk",
    "sptk": "SPTK features (pysptk) are not in nk",
}


def _hub_model(name: str, comp: str) -> str | None:
    """The Hugging Face model an nkululeko feature type names (None: it names none)."""
    low = name.lower()
    if low in AUDEERING_MODELS:
        return AUDEERING_MODELS[low]
    if "-" in name:
        return f"{HF_ORGS.get(comp, 'facebook')}/{name}"
    return DEFAULT_MODELS.get(low)


#: nkululeko MODEL.loss values → nk's
LOSSES = {"1-ccc": "ccc", "ccc": "ccc", "mse": "mse", "mae": "mae", "cross": "cross_entropy",
          "cross_entropy": "cross_entropy", "focal": "focal"}
OS_SETS = {"egemapsv02": "eGeMAPSv02", "gemapsv01b": "GeMAPSv01b", "compare_2016": "ComParE_2016",
           "compare": "ComParE_2016", "emobase": "emobase", "egemaps": "eGeMAPSv02", "gemaps": "GeMAPSv01b"}
OS_LEVELS = {"functionals": "Functionals", "lld": "LowLevelDescriptors",
             "lowleveldescriptors": "LowLevelDescriptors"}

#: keys that do nothing in nk, and why (told in `nk ini`, never an error)
NO_EFFECT = {
    "EXP.save": "nk always keeps the run folder (model, predictions, report)",
    "MODEL.save": "nk always saves the final model (model.skops) in the run folder",
    "EXP.no_warnings": "nk prints no library warnings on the console",
    "DATA.no_reuse": "nk's caches are keyed by everything that changes their content",
    "FEATS.no_reuse": "the feature cache is keyed by the featurizer, its parameters and versions",
    "EXP.no_reuse": "nk's caches are keyed by everything that changes their content",
    "FEATS.store_format": "nk's feature cache has its own format",
    "FEATS.needs_feature_extraction": "nk extracts what the cache lacks",
    "FEATS.print_feats": "nk writes the feature names to results.json",
    "PLOT.best_model": "nk's report plots the final model's confusion matrix",
    "PLOT.name": "nk names its plots itself",
    "PLOT.epoch_progression": "nk's report shows the learning curve of learners that train in epochs",
    "RESAMPLE.replace": "nk resamples every file to sampling_rate when reading it (no resampled copies)",
    "RESAMPLE.sample_selection": "nk resamples every file when reading it",
    "RESAMPLE.target": "nk resamples every file when reading it",
    "REPORT.fresh": "nk writes a new report for every run",
    "PLOT.runs_compare": "nk ranks the runs of a sweep in ranking.csv and the sweep report",
    "EXPL.print_stats": "nk explore always writes its statistics tables",
    "DATA.<db>.type": "",  # handled
}

#: keys that nkululeko 1.14.1 itself does not read (older files carry them): no effect in either tool
NOT_READ = {
    "DATA.age_bins": "DATA.bins sets the bins",
    "DATA.<db>.testsplit": "the split uses test_size",
    "PLOT.sample_selection": "EXP.sample_selection selects the rows",
    "EXPL.sample_selection": "its explore module reads EXP.sample_selection",
    "AUGMENT.sample_selection": "its augment module reads DATA.sample_selection; nk augments the training rows",
    "SEGMENT.sample_selection": "its segment module reads EXP.sample_selection",
    "RESAMPLE.sample_selection": "its resample module reads EXP.sample_selection; nk resamples every file",
}

#: nkululeko features nk does not have (the reason is the error message)
KNOWN_MISSING = {
    "MODEL.hf_token": "nk reads a Hugging Face token only from HF_TOKEN (or `hf auth login`), never from a file "
                      "it records: remove the token from the INI file and export HF_TOKEN",
    "EXP.language": "the language of nkululeko's transcription and text features; nk has neither",
    "DATA.check_size": "nk reports too short files with audio.min_duration",
    "DATA.<db>.target_tables_append": "nk has no appended target tables",
    "DATA.<db>.dev_tables": "nk's audformat loader takes one table list per database part",
    "DATA.<db>.reverse": "nk does not reverse audio",
    "DATA.<db>.scale": "nk scales features, not targets",
    "FEATS.scaler": "use FEATS.scale",
    "MODEL.logo": "",  # handled
    "PLOT.combine_per_speaker": "nk has no per-speaker combination of predictions (it aggregates segments "
                                "per file with evaluate.level=file)",
    "PLOT.uncertainty_threshold": "nk's report has no confusion matrix of the rows below an uncertainty "
                                  "threshold (nk ensemble --method uncertainty_threshold combines runs by it)",
    "EXPL.spotlight": "run `nk spotlight` instead",
    "EXPL.plot_tree": "nk explore plots no decision trees",
    "EXPL.regplot": "nk explore has no regression plots",
    "EXPL.ignore_gender": "nk explore has no ignore_gender option",
    "EXPL.bin_reals": "use explore.bins",
    "EXPORT": "nkululeko's export module has no nk counterpart",
    "RESAMPLE": "",  # keys above
    "FINETUNE": "finetuning is configured in [MODEL] for model=finetune",
    "AASIST": "nk has no AASIST model",
    "OPTIM.n_iter": "nk's search (search.params) is a full grid search on dev",
    "OPTIM.cv_folds": "nk's search chooses on the dev split, not by cross-validation on train",
    "OPTIM.random_state": "nk's search is a grid search (no random state); seed seeds the rest",
}

#: nkululeko's autopredict targets ([PREDICT] targets) → nk predictors (nk-predict), with how
#: nk's differs; the targets nk has no predictor for, and why
PREDICTORS = {
    "gender": ("gender", "audEERING's wav2vec2 age/gender model from the Hugging Face hub, as nkululeko"),
    "age": ("age", "audEERING's wav2vec2 age/gender model from the Hugging Face hub, as nkululeko"),
    "arousal": ("arousal", "audEERING's wav2vec2 MSP-Podcast dimensional model, as nkululeko"),
    "valence": ("valence", "audEERING's wav2vec2 MSP-Podcast dimensional model, as nkululeko"),
    "dominance": ("dominance", "audEERING's wav2vec2 MSP-Podcast dimensional model, as nkululeko"),
    "snr": ("snr", "nk estimates a blind SNR from the spectral noise floor; nkululeko's estimator differs, "
                   "so the values are not comparable"),
    "mos": ("mos", "nk predicts DNSMOS (speechmos); nkululeko's mos is torchaudio SQUIM's subjective MOS, "
                   "another model on another scale"),
    "pesq": ("pesq", "torchaudio SQUIM's objective estimate, as nkululeko"),
    "sdr": ("sdr", "torchaudio SQUIM's objective estimate, as nkululeko"),
    "stoi": ("stoi", "torchaudio SQUIM's objective estimate, as nkululeko"),
    "speaker": ("speaker", "nk clusters resemblyzer voice embeddings over all rows; nkululeko ran a pyannote "
                           "diarization over the concatenated files"),
    "emotion": ("emotion", "nk's emotion predictor uses a Hugging Face audio-classification model "
                           "(predict.emotion.model); nkululeko's used emotion2vec"),
}
PREDICT_MISSING = {
    "text": "nk has no speech-to-text (Whisper transcription) predictor",
    "translation": "nk has no text translation predictor",
    "textclassification": "nk has no text classifier (it works on audio)",
    "audmodel_pred": "nk cannot load audEERING audmodel models",
}
#: nkululeko's augmentation methods ([AUGMENT] augment) nk has no counterpart for
AUGMENT_MISSING = {
    "auglib": "nk has no auglib augmenter (audEERING's auglib); use 'traditional' (audiomentations)",
    "silero-denoise": "nk has no denoising augmenter",
    "rawboost": "nk has no RawBoost augmenter",
}
#: nkululeko's default 'traditional' chain (audiomentations), used when [AUGMENT] augmentations is unset
TRADITIONAL = ('Compose([AddGaussianNoise(min_amplitude=0.001, max_amplitude=0.05),Shift(p=0.5),'
               'BandPassFilter(min_center_freq=100.0, max_center_freq=6000),Limiter(min_threshold_db=-16.0,'
               'max_threshold_db=-6.0,threshold_mode="relative_to_signal_peak"),ClippingDistortion(),])')

NOTES = {
    "dev": "nk selects everything it tunes (early stopping, search.params, sweeps ranked on dev) on "
           "dev, never on test; nkululeko reported the best epoch/parameters on test",
    "speaker": "nk's speaker split is seeded (seed=42) and balanced over gender; nkululeko's "
               "speaker_split drew a random speaker split",
    "test_size": "nkululeko's test_size is a percentage; nk's split.test_size is a share",
    "default_test_size": "nkululeko's speaker_split default holds out 20% of the speakers "
                         "(split.test_size=0.2); nk's own default is 0.33",
    "filter": "nk's filters (filter.*) apply to the rows of every database; nkululeko's per-database "
              "keys applied to one",
    "runs": "EXP.runs became a sweep over seeds: in nk the seed also draws the split and the "
            "bootstrap, so the runs differ in more than the learner's initialisation",
    "os": "FEATS.type 'os' is openSMILE eGeMAPSv02 functionals (nk: feats=egemaps) unless FEATS.set says otherwise",
    "missing": "nk fills features a featurizer could not compute with train means plus indicator "
               "columns (missing=impute), not with zeros",
    "flags": "[FLAGS] became a multirun (nk run -m): the runs are ranked on dev, not on test",
    "layer": "nkululeko's wav2vec2.layer = N drops the top N transformer layers; nk takes the same "
             "layer's output (layer=-(N+1)) from the full model, without the final layer norm that "
             "large models apply to their last layer",
    "aud_hub": "audEERING's models (audwav2vec2, agender) come from the Hugging Face hub copy of the same "
               "network, pooled over its last layer; nkululeko ran their ONNX export, so values can differ "
               "slightly",
    "augment_rows": "nk augments the training rows only (never dev or test); nkululeko's augment module "
                    "augmented the rows of DATA.sample_selection (default all)",
    "random_splice": "nk's random_splice cuts fixed-length random chunks (augment.min_chunk/max_chunk); "
                     "nkululeko's cut at pauses (top_db) and reversed some chunks (p_reverse)",
    "segment_min": "nkululeko drops segments shorter than min_length (default 2 s) only when max_length "
                   "is set; nk's segment.min_speech always applies",
}


#: the notes that are about one section (told only to the commands that read it)
NOTE_SECTIONS = {NOTES["augment_rows"]: "AUGMENT", NOTES["random_splice"]: "AUGMENT",
                 NOTES["segment_min"]: "SEGMENT"}


# ---------------------------------------------------------------------------------------------
# translating


def _listify(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _yaml_value(value: Any) -> str:
    """A value in Hydra's override grammar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dict_key(str(k))}:{_yaml_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z0-9_.~/][A-Za-z0-9_.\-/]*", text)
    if plain and not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) and text.lower() not in ("true", "false", "null"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value_of(param: str, value: Any) -> Any:
    """nkululeko's spelling of a parameter value → nk's (scikit-learn's gamma='scale' is nk's None)."""
    if param == "gamma" and str(value).lower() == "scale":
        return None
    if param == "dropout" and isinstance(value, list):
        if len({float(v) for v in value}) == 1:
            return float(value[0])
        raise ValueError(f"drop={value!r}: nk's MLP uses one dropout after every layer")
    if param == "gamma" and isinstance(value, str):
        raise ValueError(f"gamma={value!r} is not in nk (a number, or None for scikit-learn's 'scale')")
    return value


def _dict_key(text: str) -> str:
    """A mapping key in Hydra's grammar, which takes no quoted keys (spaces inside are fine)."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_ .\-/]*", text) and text == text.strip():
        return text
    return _yaml_value(text)


def _compose_chain(text: str) -> list[dict[str, Any]]:
    """nkululeko's audiomentations chain (``Compose([AddGaussianNoise(p=0.5), Shift()])``, Python
    code nkululeko evaluates) → nk's ``augment.transforms`` list, read with :mod:`ast`: only
    transform calls with literal keyword arguments, never evaluated."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"not Python syntax ({exc.msg})") from None
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Compose":
        if len(tree.args) != 1 or not isinstance(tree.args[0], ast.List | ast.Tuple) or tree.keywords:
            raise ValueError("Compose takes one list of transforms (and no other arguments) here")
        calls = list(tree.args[0].elts)
    else:
        calls = [tree]
    out: list[dict[str, Any]] = []
    for call in calls:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise ValueError(f"{ast.unparse(call)!r} is not a transform call such as Shift(p=0.5)")
        if call.args:
            raise ValueError(f"{call.func.id}: give its arguments by name (min_amplitude=0.001)")
        entry: dict[str, Any] = {"name": call.func.id}
        for kw in call.keywords:
            try:
                entry[str(kw.arg)] = ast.literal_eval(kw.value)
            except ValueError:
                raise ValueError(f"{call.func.id}({kw.arg}=…) is not a literal value") from None
        out.append(entry)
    return out


class _Translator:
    def __init__(self, ini: IniFile, components: Components, ignore: Iterable[str]) -> None:
        self.ini = ini
        self.components = components
        self.ignore = {k.strip() for k in ignore}
        self.out = Translation(path=ini.path, sections=list(ini.sections))
        self.handled: set[tuple[str, str]] = set()
        self.sweeps: list[str] = []
        self.notes_seen: set[str] = set()
        self.model: str | None = None
        self.chosen_feats: list[str] = []

    # bookkeeping ---------------------------------------------------------------------------
    def line(self, section: str, key: str) -> int:
        entry = self.ini.sections.get(section, {}).get(key)
        return 0 if entry is None else entry[1]

    def went(self, section: str, key: str, where: str, *overrides: str) -> None:
        self.handled.add((section, key))
        self.out.overrides.extend(overrides)
        self.out.where.append((f"{section}.{key}", self.line(section, key), where))

    def bad(self, section: str, key: str, reason: str, commands: frozenset[str] | None = None) -> None:
        self.handled.add((section, key))
        full = f"{section}.{key}"
        if full in self.ignore or section in self.ignore:
            self.out.ignored.append(full)
            self.out.where.append((full, self.line(section, key), f"ignored (--ignore): {reason}"))
            return
        self.out.unsupported.append(Unsupported(full, self.line(section, key), reason,
                                                commands if commands is not None else SECTION_COMMANDS.get(section)))

    def note(self, name: str) -> None:
        if name not in self.notes_seen:
            self.notes_seen.add(name)
            self.out.notes.append(NOTES[name])

    def has(self, group: str, name: str) -> bool:
        return name in self.components.get(group, {})

    def params(self, group: str, name: str | None) -> Sequence[str]:
        return self.components.get(group, {}).get(name or "", ())

    # sections ------------------------------------------------------------------------------
    def run(self) -> Translation:
        ini = self.ini
        self.model = self._model_name()
        self._data()
        self._exp()
        self._feats()
        self._model()
        self._finetune()
        self._explore()
        self._predict()
        self._segment()
        self._augment()
        self._flags()
        self._optim()
        self._report()
        self._plot()
        self._rest()
        if self.sweeps:  # a swept key replaces its single value (FLAGS models over MODEL type)
            swept = {sweep.split("=", 1)[0] for sweep in self.sweeps}
            self.out.overrides = [o for o in self.out.overrides if o.split("=", 1)[0] not in swept]
            self.out.multirun = True
            self.out.overrides.extend(self.sweeps)
        del ini
        return self.out

    def _model_name(self) -> str | None:
        value = self.ini.get("MODEL", "type")
        return None if value is None else MODELS.get(str(value).lower(), str(value).lower())

    def _exp(self) -> None:
        get = self.ini.sections.get("EXP", {})
        for key, (value, _) in get.items():
            if key == "root":
                sub = os.path.dirname(str(get.get("name", ("", 0))[0]).rstrip("/"))
                root = os.path.normpath(os.path.join(str(value), sub)) if sub else str(value)
                self.went("EXP", key, f"results_root={root} (nk writes <root>/<name>/<time>/)",
                          f"results_root={_yaml_value(root)}")
            elif key == "name":
                name = str(value).rstrip("/")
                if "/" in name:  # nkululeko's name = results/exp_x: the folder part joins the root
                    if "root" not in get:
                        self.out.overrides.append(f"results_root={_yaml_value(os.path.dirname(name))}")
                    name = os.path.basename(name)
                self.went("EXP", key, f"name={name}", f"name={_yaml_value(name)}")
            elif key == "type":
                task = str(value).lower()
                if task in ("classification", "regression"):
                    self.went("EXP", key, "task", f"task={task}")
                else:
                    self.bad("EXP", key, f"type {value!r}: nk's task is classification or regression")
            elif key == "random_seed":
                self.went("EXP", key, "seed", f"seed={int(value)}")
            elif key == "runs":
                runs = int(value)
                if runs <= 1:
                    self.went("EXP", key, "one run (nk's default)")
                else:
                    seeds = ",".join(str(42 + i) for i in range(runs))
                    self.handled.add(("EXP", key))
                    self.out.where.append(("EXP.runs", self.line("EXP", key), f"a sweep over seed={seeds}"))
                    self.sweeps.append(f"seed={seeds}")
                    self.note("runs")
            elif key == "epochs":
                if "epochs" in self.params("model", self.model):
                    self.went("EXP", key, "model.epochs", f"model.epochs={int(value)}")
                    self.note("dev")
                elif self.model and self.has("model", self.model):
                    self.went("EXP", key, f"no effect: model {self.model} does not train in epochs")
                elif self.model is None:
                    self.went("EXP", key, "no effect: the file names no MODEL.type (nk's default model, svm, "
                              "does not train in epochs)")
                else:
                    self.bad("EXP", key, f"MODEL.type {self.model!r} is not an nk model (see MODEL.type), so no "
                             "learner takes the epochs")
            elif key == "sample_selection":
                which = str(value).lower()
                if which == "all":
                    self.went("EXP", key, "no effect: nk uses every row (nk's default)")
                elif which in ("train", "test"):
                    self.went("EXP", key, f"prediction.split={which} (nk predict)", f"prediction.split={which}")
                    self.bad("EXP", key, f"sample_selection {which!r}: nk explore and nk segment work on every row "
                             "of the data (nk predict takes it as prediction.split)",
                             commands=frozenset({"explore", "segment"}))
                else:
                    self.bad("EXP", key, f"sample_selection {value!r}: all, train or test")
            elif key == "traindevtest":
                if value:
                    self.went("EXP", key, "dev kept apart for model selection (split.merge_dev=false)",
                              "split.merge_dev=false")
                    self.note("dev")
                else:
                    self.went("EXP", key, "no effect (nk's default)")
            elif key == "databases":
                self.bad("EXP", key, "databases are listed in [DATA] (nkululeko's old place); "
                         "did you mean DATA.databases?")

    def _data(self) -> None:
        data = self.ini.sections.get("DATA", {})
        names = self.ini.get("DATA", "databases")
        if names is None:
            raise UserError("[DATA] has no databases key", where=f"{self.ini.path}, [DATA]",
                            todo="add databases = ['name'] and name = path/to/table.csv")
        names = [str(n) for n in _listify(names)]
        self.went("DATA", "databases", f"data: {', '.join(names)}", "data=[]")
        strategies: set[str] = set()
        for name in names:
            strategies |= self._database(name)
        # the split method follows the databases' strategies
        if strategies & {"speaker_split"}:
            self.out.overrides.append("split.method=speaker")
            self.note("speaker")
        elif strategies & {"random"}:
            self.out.overrides.append("split.method=random")
        elif strategies & {"balanced"}:
            self.out.overrides.append("split.method=balanced")
        elif strategies & {"train", "test", "dev", "specified"}:
            self.out.overrides.append("split.method=given")
        if strategies & {"dev_as_train"} and not self.ini.get("EXP", "traindevtest", False):
            self.out.overrides.append("split.merge_dev=true")
        for key, (value, _) in data.items():
            if (("DATA", key)) in self.handled:
                continue
            if key == "target":
                self.went("DATA", key, "target", f"target={_yaml_value(str(value))}")
            elif key == "labels" and str(self.ini.get("EXP", "type", "")).lower() == "regression":
                self.went("DATA", key, "no effect: names of the bins nkululeko reports regression results in")
            elif key == "labels":
                self.went("DATA", key, "labels", f"labels={_yaml_value(_listify(value))}")
            elif key == "bins" and str(self.ini.get("EXP", "type", "")).lower() == "regression":
                self.went("DATA", key, "no effect: nkululeko bins regression results only for its reports; nk "
                          "reports regression metrics")
            elif key == "bins":
                edges = [v for v in _listify(value) if abs(float(v)) < 1e4] if isinstance(value, list) else []
                if edges:
                    self.went("DATA", key, "bins.edges (the inner edges; the outer ones are open)",
                              f"bins.edges={_yaml_value(edges)}")
                else:
                    self.bad("DATA", key, "bins must be a list of edges, e.g. [-100000, 30, 100000]")
            elif key == "limit_samples":
                self.went("DATA", key, "filter.max_samples", f"filter.max_samples={int(value)}")
            elif key == "limit_samples_per_speaker":
                self.went("DATA", key, "filter.max_per_speaker", f"filter.max_per_speaker={int(value)}")
            elif key in ("min_duration_of_sample", "min_duration_of_samples"):
                self.went("DATA", key, "filter.min_duration", f"filter.min_duration={float(value)}")
            elif key == "max_duration_of_sample":
                self.went("DATA", key, "filter.max_duration", f"filter.max_duration={float(value)}")
            elif key == "filter":
                values = self._filter_values("DATA", key, value)
                if values is not None:
                    self.went("DATA", key, "filter.values", f"filter.values={_yaml_value(values)}")
            elif key == "sample_selection" and str(value) == "all":
                self.went("DATA", key, "no effect: nk uses all rows (nk's default)")
            elif key == "balance" and isinstance(value, dict):
                target = str(self.ini.get("DATA", "target", ""))
                covariates = [str(k) for k in value if str(k) != target]
                self.went("DATA", key, "split.balance_on (nk weighs the target and each covariate equally)",
                          f"split.balance_on={_yaml_value(covariates)}")

    def _filter_values(self, section: str, key: str, value: Any) -> dict[str, list[Any]] | None:
        out: dict[str, list[Any]] = {}
        if isinstance(value, dict):
            pairs = list(value.items())
        elif isinstance(value, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
            pairs = [(p[0], p[1]) for p in value]
        else:
            self.bad(section, key, "filter must be [[column, value(s)], …] or {column: [values]}")
            return None
        for column, vals in pairs:
            out.setdefault(str(column), []).extend(_listify(vals))
        return out

    def _database(self, name: str) -> set[str]:
        used = self._database_parts(name)
        if ("DATA", name) not in self.handled:  # the database could not be translated: say so per key
            data = self.ini.sections["DATA"]
            for key in [name, *(k for k in data if k.startswith(name + "."))]:
                if ("DATA", key) not in self.handled:
                    self.bad("DATA", key, f"database {name!r} is not translated (see the unsupported "
                             f"DATA.{name}.type or DATA.{name}.split_strategy)")
        return used

    def _database_parts(self, name: str) -> set[str]:
        data = self.ini.sections["DATA"]
        if name not in data:
            raise UserError(f"[DATA] lists database {name!r} but gives no path for it",
                            where=f"{self.ini.path}, line {self.line('DATA', 'databases')}",
                            todo=f"add {name} = path/to/table.csv (or the audformat folder)")
        keys = {k[len(name) + 1:]: k for k in data if k.startswith(name + ".")}
        path = str(data[name][0])
        kind = str(self.ini.get("DATA", f"{name}.type", "audformat")).lower()
        loader = {"csv": "csv", "audformat": "audformat"}.get(kind)
        if loader is None:
            self.bad("DATA", f"{name}.type", f"type {kind!r}: nk reads csv and audformat databases")
            return set()
        strategy = str(self.ini.get("DATA", f"{name}.split_strategy", "speaker_split")).lower()
        parts: list[tuple[str, str, list[str]]] = [(name, "all", [])]  # (key, role, tables)
        used: set[str] = set()
        if strategy in ("train", "test", "dev"):
            role = "train" if strategy == "dev" else strategy
            parts = [(name, role, [])]
            used.add("dev_as_train" if strategy == "dev" or name == "dev" else strategy)
        elif strategy == "specified":
            if loader != "audformat":
                self.bad("DATA", f"{name}.split_strategy", "specified needs an audformat database with "
                         "train_tables/test_tables; for a CSV, list a database per split with "
                         "split_strategy train/test, or use nk's given split (a `split` column)")
                return set()
            parts = []
            for role in ("train", "dev", "test"):
                tables = _listify(self.ini.get("DATA", f"{name}.{role}_tables", []))
                if tables:
                    parts.append((f"{name}_{role}", role, [str(t) for t in tables]))
                    keys.pop(f"{role}_tables", None)
                    self.went("DATA", f"{name}.{role}_tables", f"data.{name}_{role}.tables (role {role})")
            if not parts:
                self.bad("DATA", f"{name}.split_strategy", "specified needs train_tables and test_tables")
                return set()
            used.add("specified")
        elif strategy in ("speaker_split", "random", "balanced"):
            used.add(strategy)
        elif strategy == "column":
            self.bad("DATA", f"{name}.split_strategy", "split_strategy 'column' (split by the values of "
                     "split_column): nk's given split reads a `split` column with train/dev/test; write one into "
                     "the table and use split_strategy train/test per database, or nk's split.method=given")
            return set()
        else:
            self.bad("DATA", f"{name}.split_strategy", f"split_strategy {strategy!r}: nk splits by "
                     "speaker_split, random, balanced, train/dev/test or specified "
                     "(nk's split.method: speaker, random, balanced, given, loso, lsgo, kfold)")
            return set()
        if f"{name}.split_strategy" in data and ("DATA", f"{name}.split_strategy") not in self.handled:
            self.went("DATA", f"{name}.split_strategy", {
                "speaker_split": "split.method=speaker", "random": "split.method=random",
                "balanced": "split.method=balanced", "specified": "split.method=given (roles train/test)",
            }.get(strategy, f"data.{name}.role={'train' if strategy == 'dev' else strategy}, split.method=given"))
        keys.pop("split_strategy", None)
        if kind == "csv" or f"{name}.type" in data:
            keys.pop("type", None)
            if f"{name}.type" in data:
                self.went("DATA", f"{name}.type", f"loader {loader}")
        # the database itself: its parts
        root: str | None = None
        if loader == "csv":
            absolute = bool(self.ini.get("DATA", f"{name}.absolute_path", True))
            audio_path = self.ini.get("DATA", f"{name}.audio_path")
            if absolute:
                root = str(audio_path) if audio_path else "."
            elif audio_path:
                root = os.path.join(os.path.dirname(path), str(audio_path))
            for k in ("absolute_path", "audio_path"):
                if k in keys:
                    keys.pop(k)
                    self.went("DATA", f"{name}.{k}", f"data.{name}.root={root}" if root else
                              f"no effect: audio paths are relative to the CSV's folder (data.{name}.root)")
        overrides = []
        for key, role, tables in parts:
            overrides.append(f"+data@data.{key}={loader}")
            overrides.append(f"data.{key}.path={_yaml_value(path)}")
            if root is not None:
                overrides.append(f"data.{key}.root={_yaml_value(root)}")
            if role != "all":
                overrides.append(f"data.{key}.role={role}")
            if tables:
                overrides.append(f"data.{key}.tables={_yaml_value(tables)}")
        self.went("DATA", name, f"data.{name}.path ({loader} loader)", *overrides)
        if "target_tables" in keys and loader == "audformat" and strategy != "specified":
            keys.pop("target_tables")
            tables = [str(t) for t in _listify(self.ini.get("DATA", f"{name}.target_tables"))]
            self.went("DATA", f"{name}.target_tables", f"data.{name}.tables",
                      *(f"data.{k}.tables={_yaml_value(tables)}" for k, _, _ in parts))
        for sub, full in keys.items():
            value = data[full][0]
            keys_of_parts = [k for k, _, _ in parts]
            if sub == "colnames" and isinstance(value, dict):
                self.went("DATA", full, f"data.{name}.rename",
                          *(f"data.{k}.rename={_yaml_value(value)}" for k in keys_of_parts))
            elif sub == "mapping" and isinstance(value, dict):
                flat: dict[str, str] = {}
                if any(isinstance(v, dict) for v in value.values()):
                    self.bad("DATA", full, "mapping of columns other than the target ({column: {old: new}})"
                             " is not in nk; label_map maps the target's values")
                    continue
                for old, new in value.items():
                    for one in str(old).split(","):
                        flat[one.strip()] = str(new)
                self.went("DATA", full, f"data.{name}.label_map",
                          *(f"data.{k}.label_map={_yaml_value(flat)}" for k in keys_of_parts))
            elif sub == "test_size":
                share = float(value) / 100 if float(value) >= 1 else float(value)
                self.went("DATA", full, "split.test_size (as a share)", f"split.test_size={share:g}")
                self.note("test_size")
            elif sub == "dev_size":
                share = float(value) / 100 if float(value) >= 1 else float(value)
                self.went("DATA", full, "split.dev_size (as a share)", f"split.dev_size={share:g}")
                self.note("test_size")
            elif sub == "limit_samples":
                self.went("DATA", full, "filter.max_samples (all databases)", f"filter.max_samples={int(value)}")
                self.note("filter")
            elif sub == "limit_samples_per_speaker":
                self.went("DATA", full, "filter.max_per_speaker (all databases)",
                          f"filter.max_per_speaker={int(value)}")
                self.note("filter")
            elif sub == "filter":
                values = self._filter_values("DATA", full, value)
                if values is not None:
                    self.went("DATA", full, "filter.values (all databases)", f"filter.values={_yaml_value(values)}")
                    self.note("filter")
            elif sub == "files_tables" and loader == "audformat":
                self.went("DATA", full, "no effect: nk's audformat loader reads the tables it needs (the target's, "
                          "and the speaker properties with map_speaker)")
            elif sub in ("train_tables", "dev_tables", "test_tables") and loader == "audformat":
                self.went("DATA", full, f"no effect: nkululeko reads {sub} only with split_strategy=specified")
            elif sub == "columns" and loader == "audformat":
                self.went("DATA", full, "no effect: nk's audformat loader reads every column")
            elif f"DATA.<db>.{sub}" in NOT_READ:
                self.went("DATA", full, f"no effect: nkululeko 1.14.1 does not read this key "
                          f"({NOT_READ[f'DATA.<db>.{sub}']})")
            else:
                reason = KNOWN_MISSING.get(f"DATA.<db>.{sub}")
                supported = ["type", "split_strategy", "absolute_path", "audio_path", "colnames", "mapping",
                             "test_size", "dev_size", "limit_samples", "limit_samples_per_speaker", "filter",
                             "train_tables", "test_tables", "target_tables", "columns"]
                self.bad("DATA", full, reason or self._nearest(sub, supported, f"{name}."))
        if strategy == "speaker_split" and f"{name}.test_size" not in data:
            self.out.overrides.append("split.test_size=0.2")
            self.note("default_test_size")
        return used

    def _nearest(self, key: str, supported: Sequence[str], prefix: str = "") -> str:
        if key in supported:
            return f"{prefix}{key} is not supported here"
        close = difflib.get_close_matches(key, list(supported), n=1, cutoff=0.6)
        if close:
            return f"not an nkululeko key nk knows; did you mean {prefix}{close[0]}?"
        return "not a key nk knows (nk supports: " + ", ".join(prefix + s for s in supported) + ")"

    def _feature(self, section: str, key: str, name: str) -> str | None:
        """The nk component for an nkululeko feature type, or None (reported)."""
        low = name.lower()
        base = low.split("-")[0]
        comp = FEATURES.get(low) or FEATURES.get(base)
        if low in AUDEERING_MODELS:
            comp = "wav2vec2"
        if base in MISSING_FEATURE_REASONS:
            self.bad(section, key, f"feature type {name!r}: {MISSING_FEATURE_REASONS[base]}")
            return None
        if comp in HF_ORGS and _hub_model(name, comp) is None and f"{base}.model" not in self.ini.sections.get(
                "FEATS", {}):
            self.bad(section, key, f"feature type {name!r} names no model: nkululeko would load {base}'s "
                     f"'{HF_ORGS.get(comp, 'facebook')}/{low}', which does not exist; name one, e.g. "
                     f"{base}-{ {'hubert': 'large-ll60k', 'wavlm': 'large', 'data2vec': 'audio-large'}.get(base, 'large')}, "
                     f"or set FEATS.{base}.model")
            return None
        if comp is None:
            known = base in NKULULEKO_ONLY_FEATURES
            self.bad(section, key, f"feature type {name!r} is "
                     + ("an nkululeko feature extractor nk does not have" if known else "not an extractor nk knows")
                     + " (nk has: os, praat, mfcc, and wav2vec2-*/hubert-*/wavlm-*/whisper-*/data2vec-* with "
                     "nk-transformers)")
            return None
        if low == "os":
            comp = "egemaps" if self.ini.get("FEATS", "set") is None and self.ini.get("FEATS", "os.set") is None \
                and self.ini.get("FEATS", "level") is None else "opensmile"
            if not self.has("feats", comp):
                self.bad(section, key, "feature type 'os' needs nk-opensmile (pip install nk-opensmile)")
                return None
            self.note("os")
            return comp
        if not self.has("feats", comp):
            self.bad(section, key, f"feature type {name!r} needs the nk component {comp!r} "
                     "(nk-transformers for SSL models), which is not installed")
            return None
        return comp

    def _feats(self) -> None:
        feats = self.ini.sections.get("FEATS", {})
        chosen: list[str] = []
        for key, (value, _) in feats.items():
            if key == "type":
                types = [str(v) for v in _listify(value)] if value != "" else []
                comps = [self._feature("FEATS", key, t) for t in types]
                if all(c is not None for c in comps) and len(set(comps)) < len(comps):
                    self.bad("FEATS", key, f"{types!r} name the nk component "
                             f"{next(c for c in comps if comps.count(c) > 1)!r} twice (two models of one "
                             "kind): nk extracts each feature component once per run")
                elif all(c is not None for c in comps):
                    chosen = [c for c in comps if c is not None]
                    self.chosen_feats = chosen
                    self.went("FEATS", key, f"feats=[{','.join(chosen)}]", f"feats={_yaml_value(chosen)}")
                    for t, c in zip(types, chosen, strict=True):
                        if "model" not in self.params("feats", c) or f"{t.split('-')[0].lower()}.model" in feats:
                            continue
                        hf = _hub_model(t, c)
                        if hf is None:
                            continue
                        self.out.overrides.append(f"feats.{c}.model={_yaml_value(hf)}")
                        self.out.where.append((f"FEATS.type {t}", self.line("FEATS", key), f"feats.{c}.model={hf}"))
                        if t.lower() in AUDEERING_MODELS:
                            self.note("aud_hub")
        for key, (value, _) in feats.items():
            if key == "type":
                continue
            if key in ("set", "os.set"):
                fs = OS_SETS.get(str(value).lower())
                if fs and "opensmile" in chosen:
                    self.went("FEATS", key, "feats.opensmile.feature_set", f"feats.opensmile.feature_set={fs}")
                else:
                    self.bad("FEATS", key, f"set {value!r}: nk's opensmile sets are "
                             + ", ".join(sorted(set(OS_SETS.values()))))
            elif key in ("level", "os.level"):
                level = OS_LEVELS.get(str(value).lower())
                if level and "opensmile" in chosen:
                    self.went("FEATS", key, "feats.opensmile.feature_level", f"feats.opensmile.feature_level={level}")
                else:
                    self.bad("FEATS", key, f"level {value!r}: nk's levels are functionals and lld")
            elif key == "scale":
                scale = SCALERS.get(str(value).lower())
                if scale:
                    self.went("FEATS", key, "scale", f"scale={scale}")
                else:
                    self.bad("FEATS", key, f"scale {value!r}: nk scales with " + ", ".join(sorted(set(SCALERS.values()))))
            elif key == "balancing":
                bal = BALANCERS.get(str(value).lower())
                if bal:
                    self.went("FEATS", key, "balance (train only)", f"balance={bal}")
                else:
                    self.bad("FEATS", key, f"balancing {value!r}: nk balances with "
                             + ", ".join(sorted(set(BALANCERS.values()))))
            elif key == "features":
                cols = [f"*{c}" if not any(ch in str(c) for ch in "*?[") else str(c) for c in _listify(value)]
                self.went("FEATS", key, "select.columns", f"select.columns={_yaml_value(cols)}")
            elif "." in key:
                extractor, param = key.split(".", 1)
                comp = FEATURES.get(extractor, extractor)
                if comp in chosen and param == "layer" and extractor in LAYER_FROM_TOP and "layer" in self.params(
                        "feats", comp):
                    layer = -(int(value) + 1)
                    self.went("FEATS", key, f"feats.{comp}.layer={layer} (nkululeko counts the layers dropped from "
                              "the top)", f"feats.{comp}.layer={layer}")
                    self.note("layer")
                elif comp in chosen and param in self.params("feats", comp):
                    self.went("FEATS", key, f"feats.{comp}.{param}", f"feats.{comp}.{param}={_yaml_value(value)}")
                elif comp in chosen:
                    self.bad("FEATS", key, self._nearest(param, self.params("feats", comp), f"{extractor}."))
                elif extractor in NKULULEKO_ONLY_FEATURES:
                    self.bad("FEATS", key, f"a setting of nkululeko's {extractor} extractor, which nk does not have")
                elif any(str(t).lower().split("-")[0] == extractor for t in _listify(feats.get("type", ([], 0))[0])):
                    self.bad("FEATS", key, f"a setting of FEATS.type {extractor!r}, which is not translated "
                             "(see FEATS.type)")
                else:
                    self.bad("FEATS", key, f"{extractor!r} is not among the feature types of FEATS.type")
            elif f"FEATS.{key}" in NO_EFFECT:
                self.went("FEATS", key, f"no effect: {NO_EFFECT[f'FEATS.{key}']}")
            else:
                self.bad("FEATS", key, KNOWN_MISSING.get(f"FEATS.{key}") or self._nearest(
                    key, ["type", "set", "level", "scale", "balancing", "features"]))

    def _model_param(self, section: str, key: str) -> str | None:
        """The nk parameter of the chosen model for an nkululeko MODEL key, or None."""
        for cand in MODEL_PARAMS.get(key, [key]):
            if cand in self.params("model", self.model):
                return cand
        return None

    def _model(self) -> None:
        section = self.ini.sections.get("MODEL", {})
        for key, (value, _) in section.items():
            if key not in ("type", "save", "measure") and self.model is not None and not self.has("model", self.model):
                self.bad("MODEL", key, f"a setting of MODEL.type {self.model!r}, which is not an nk model "
                         "(see MODEL.type)")
            elif key == "type":
                if self.model is not None and self.has("model", self.model):
                    self.went("MODEL", key, "model", f"model={self.model}")
                    if self.model in ("xgb", "xgr", "mlp", "mlp_reg", "cnn", "finetune"):
                        self.note("dev")
                else:
                    known = sorted(self.components.get("model", {}))
                    self.bad("MODEL", key, f"model {value!r} is not installed in nk (installed: {', '.join(known)})")
            elif key == "logo":
                self.went("MODEL", key, "split.method=lsgo (leave one speaker group out)",
                          "split.method=lsgo", f"split.n_folds={int(value)}")
            elif key == "k_fold_cross":
                self.went("MODEL", key, "split.method=kfold (speaker-grouped)",
                          "split.method=kfold", f"split.n_folds={int(value)}")
            elif key == "save":
                self.went("MODEL", key, f"no effect: {NO_EFFECT['MODEL.save']}")
            elif key == "measure":
                self.went("MODEL", key, "no effect: nk reports every metric and selects on the primary one "
                          "(UAR / CCC) on dev")
            elif key == "n_jobs" and "n_jobs" not in self.params("model", self.model):
                self.went("MODEL", key, f"no effect: model {self.model} has no n_jobs (nk's n_jobs sets the "
                          "extraction processes)")
            elif key == "device" and "device" not in self.params("model", self.model):
                feats = [c for c in self.chosen_feats if "device" in self.params("feats", c)]
                if feats:
                    self.went("MODEL", key, ", ".join(f"feats.{c}.device" for c in feats),
                              *(f"feats.{c}.device={_yaml_value(value)}" for c in feats))
                else:
                    self.went("MODEL", key, f"no effect: model {self.model} and the feature sets run on the CPU")
            elif key == "class_weight" and "class_weight" in self.params("model", self.model):
                self.went("MODEL", key, "model.class_weight", f"model.class_weight={_yaml_value(bool(value))}")
            elif key == "layers" and isinstance(value, dict) and self._model_param("MODEL", key):
                name = self._model_param("MODEL", key)
                self.went("MODEL", key, f"model.{name} (a list)", f"model.{name}={_yaml_value(list(value.values()))}")
            elif key == "loss" and self._model_param("MODEL", key):
                loss = LOSSES.get(str(value).lower())
                if loss is None:
                    self.bad("MODEL", key, f"loss {value!r}: nk's losses are " + ", ".join(sorted(set(LOSSES.values()))))
                else:
                    self.went("MODEL", key, "model.loss", f"model.loss={loss}")
            elif (name := self._model_param("MODEL", key)) is not None:
                try:
                    self.went("MODEL", key, f"model.{name}", f"model.{name}={_yaml_value(_value_of(name, value))}")
                except ValueError as exc:
                    self.bad("MODEL", key, str(exc))
            elif key in MODEL_PARAMS:
                self.bad("MODEL", key, f"model {self.model!r} has no such parameter in nk"
                         + (f" (its parameters: {', '.join(self.params('model', self.model))})"
                            if self.params("model", self.model) else ""))
            else:
                self.bad("MODEL", key, KNOWN_MISSING.get(f"MODEL.{key}") or self._nearest(
                    key, [*MODEL_PARAMS, "type", "logo", "k_fold_cross", "save"]))

    def _finetune(self) -> None:
        section = self.ini.sections.get("FINETUNE", {})
        if not section or not self.model or not self.model.startswith("finetune"):
            return
        for key, (value, _) in section.items():
            if (name := self._model_param("FINETUNE", key)) is not None:
                self.went("FINETUNE", key, f"model.{name}", f"model.{name}={_yaml_value(value)}")
            else:
                self.bad("FINETUNE", key, self._nearest(key, self.params("model", self.model)))

    def _predict(self) -> None:
        section = self.ini.sections.get("PREDICT", {})
        if not section:
            return
        if self.out.command == "run":
            self.out.command = "predict"
        for key, (value, _) in section.items():
            if key == "targets":
                chosen: list[str] = []
                for target in (str(t) for t in _listify(value)):
                    if target in PREDICT_MISSING:
                        self.bad("PREDICT", key, f"target {target!r}: {PREDICT_MISSING[target]}")
                        chosen = []
                        break
                    name, how = PREDICTORS.get(target, (target, ""))
                    if not self.has("predict", name):
                        known = ", ".join(sorted(PREDICTORS))
                        self.bad("PREDICT", key, f"target {target!r} has no nk predictor installed "
                                 f"(nkululeko's targets nk has: {known}; nk-predict provides them)")
                        chosen = []
                        break
                    chosen.append(name)
                    if how:
                        self.out.notes.append(f"PREDICT target {target}: {how}")
                if not chosen:
                    continue
                extra = []
                for name in chosen:  # nkululeko's age/gender model is the 6-layer one
                    if name in ("age", "gender") and "model" in self.params("predict", name):
                        extra.append(f"predict.{name}.model=audeering/wav2vec2-large-robust-6-ft-age-gender")
                self.went("PREDICT", key, f"predict={_yaml_value(chosen)} (nk predict; nk explore predicts "
                          "and analyses; columns <target>_pred as in nkululeko)",
                          f"predict={_yaml_value(chosen)}", *extra)
            elif key == "sample_selection":
                which = str(value).lower()
                if which in ("all", "train", "test"):
                    self.went("PREDICT", key, f"prediction.split={which} (nk predict; nk explore predicts "
                              "every row it explores)", f"prediction.split={which}")
                else:
                    self.bad("PREDICT", key, f"sample_selection {value!r}: all, train or test")
            elif key in ("target_language", "textclassifier.candidates"):
                self.bad("PREDICT", key, "nk has no text predictors (transcription, translation, text "
                         "classification)")
            else:
                self.bad("PREDICT", key, self._nearest(key, ["targets", "sample_selection"]))

    def _segment(self) -> None:
        section = self.ini.sections.get("SEGMENT", {})
        if not section:
            return
        if self.out.command == "run":
            self.out.command = "segment"
        method = str(section.get("method", ("silero", 0))[0]).lower()
        ok = method in ("silero", "pyannote") and self.has("segment", method)
        if "method" in section:
            if ok:
                self.went("SEGMENT", "method", f"segment={method}", f"segment={method}")
                device = self.ini.get("MODEL", "device")
                if method == "pyannote" and device is not None and "device" in self.params("segment", method):
                    self.out.overrides.append(f"segment.device={_yaml_value(str(device))}")
                    self.out.where.append(("MODEL.device", self.line("MODEL", "device"),
                                           "segment.device (nk segment; pyannote reads MODEL.device)"))
                if method == "pyannote":
                    self.out.notes.append("SEGMENT method pyannote: nk's pyannote segmenter runs a pyannote "
                                          "diarization pipeline (segment.pipeline, a gated Hugging Face model: "
                                          "set HF_TOKEN) and writes each segment's speaker; segment=diarize "
                                          "does the same without the hub")
            elif method in ("silero", "pyannote"):
                self.bad("SEGMENT", "method", f"segment={method} needs its nk plugin "
                         f"({'nk-silero' if method == 'silero' else 'nk-diarize'}), which is not installed")
            else:
                self.bad("SEGMENT", "method", f"method {method!r}: nk segments with silero (nk-silero) or "
                         "pyannote / diarize (nk-diarize); nk has no inaspeechsegmenter")
        elif ok:
            self.out.overrides.append("segment=silero")
            self.out.where.append(("SEGMENT", self.line("SEGMENT", next(iter(section))),
                                   "segment=silero (nkululeko's default method)"))
        max_length = section.get("max_length", (None, 0))[0]
        params = self.params("segment", method)
        for key, (value, _) in section.items():
            if key == "method":
                continue
            if key == "max_length":
                if "max_segment" in params:
                    self.went("SEGMENT", key, "segment.max_segment (longer speech is cut)",
                              f"segment.max_segment={float(value)}")
                else:
                    self.bad("SEGMENT", key, f"nk's {method} segmenter has no maximum segment length")
            elif key == "min_length":
                if not max_length:
                    self.went("SEGMENT", key, "no effect: nkululeko reads min_length only with max_length")
                elif "min_speech" in params:
                    self.went("SEGMENT", key, "segment.min_speech (shorter segments are dropped)",
                              f"segment.min_speech={float(value)}")
                    self.note("segment_min")
                else:
                    self.bad("SEGMENT", key, f"nk's {method} segmenter has no minimum segment length")
            elif key in ("segment_target", "target", "result"):
                self.went("SEGMENT", key, "no effect: nk segment writes segments.csv into its run folder "
                          "(data=csv data.csv.path=…/segments.csv loads it)")
            elif key == "sample_selection":
                self.went("SEGMENT", key, f"no effect: nkululeko 1.14.1 does not read this key "
                          f"({NOT_READ['SEGMENT.sample_selection']}); nk segment segments every row")
            elif key == "output_audio":
                self.went("SEGMENT", key, "segmentation.export_audio",
                          f"segmentation.export_audio={_yaml_value(bool(value))}")
            elif key == "audio_format" and str(value).lower() in ("wav", "flac"):
                self.went("SEGMENT", key, "segmentation.audio_format", f"segmentation.audio_format={str(value).lower()}")
            elif key == "sampling_rate":
                self.went("SEGMENT", key, "segmentation.sampling_rate", f"segmentation.sampling_rate={int(value)}")
            else:
                self.bad("SEGMENT", key, self._nearest(key, ["method", "max_length", "min_length", "output_audio",
                                                             "audio_format", "sampling_rate", "segment_target"]))
        if max_length and "min_length" not in section and "min_speech" in params:
            self.out.overrides.append("segment.min_speech=2.0")  # nkululeko's default min_length
            self.note("segment_min")

    def _augment(self) -> None:
        section = self.ini.sections.get("AUGMENT", {})
        if not section:
            return
        if self.out.command == "run":
            self.out.command = "augment"
        methods = [str(m) for m in _listify(section.get("augment", ("traditional", 0))[0])]
        chosen: str | None = None
        if len(methods) != 1:
            self.bad("AUGMENT", "augment", f"{methods!r}: nk applies one augmenter per run; run nk augment once "
                     "per method (augment=audiomentations for 'traditional', augment=random_splice)")
        elif methods[0] in AUGMENT_MISSING:
            self.bad("AUGMENT", "augment", AUGMENT_MISSING[methods[0]])
        elif methods[0] == "traditional":
            chosen = "audiomentations"
        elif methods[0] == "random_splice":
            chosen = "random_splice"
        else:
            self.bad("AUGMENT", "augment", f"method {methods[0]!r}: nkululeko's methods nk has are traditional "
                     "(audiomentations) and random_splice")
        if chosen is not None and not self.has("augment", chosen):
            self.bad("AUGMENT", "augment", f"augment={chosen} needs nk-audiomentations, which is not installed")
            chosen = None
        if chosen == "audiomentations":
            text = section.get("augmentations", (TRADITIONAL, 0))[0]
            try:
                transforms = _compose_chain(str(text))
            except ValueError as exc:
                self.bad("AUGMENT", "augmentations" if "augmentations" in section else "augment",
                         f"the audiomentations chain cannot be read: {exc}")
            else:
                self.went("AUGMENT", "augment", "augment=audiomentations (nkululeko's 'traditional')",
                          "augment=audiomentations", f"augment.transforms={_yaml_value(transforms)}")
                if "augmentations" in section:
                    self.went("AUGMENT", "augmentations", "augment.transforms (each transform with its arguments)")
                else:
                    self.out.notes.append("AUGMENT traditional without augmentations: nkululeko's default chain "
                                          "(AddGaussianNoise, Shift, BandPassFilter, Limiter, ClippingDistortion) "
                                          "became augment.transforms")
        elif chosen == "random_splice":
            self.went("AUGMENT", "augment", "augment=random_splice", "augment=random_splice")
            self.note("random_splice")
        if chosen is not None:
            self.note("augment_rows")
        for key in section:
            if key in ("augment", "augmentations"):
                continue
            if key == "sample_selection":
                self.went("AUGMENT", key, f"no effect: nkululeko 1.14.1 does not read this key "
                          f"({NOT_READ['AUGMENT.sample_selection']})")
            elif key == "result":
                self.went("AUGMENT", key, "no effect: nk augment writes augmented.csv into its run folder; "
                          "nk run augment=… trains with the copies directly")
            elif key in ("bypass_prob", "transformations", "crop_dur"):
                self.bad("AUGMENT", key, "an auglib setting: nk has no auglib augmenter")
            elif key in ("p_reverse", "top_db"):
                self.bad("AUGMENT", key, "nk's random_splice has no such setting (it cuts fixed-length random "
                         "chunks: augment.min_chunk/max_chunk)")
            else:
                self.bad("AUGMENT", key, self._nearest(key, ["augment", "augmentations", "sample_selection",
                                                             "result"]))

    def _explore(self) -> None:
        section = self.ini.sections.get("EXPL", {})
        if not section:
            return
        self.out.command = "explore"
        analyses = ["counts", "durations", "bias"]
        importance: list[str] = []
        for key, (value, _) in section.items():
            if key == "value_counts":
                cols: list[str] = []
                for group in _listify(value):
                    for col in _listify(group):
                        if str(col) not in cols and str(col) != "duration":
                            cols.append(str(col))
                self.went("EXPL", key, "explore.columns (counts and bias per column)",
                          f"explore.columns={_yaml_value(cols)}")
            elif key == "model":
                models = {"tree": "tree", "xgb": "xgb"}
                chosen = [models.get(str(m), str(m)) for m in _listify(value)]
                missing = [m for m in chosen if not self.has("model", m)]
                if missing:
                    self.bad("EXPL", key, f"model(s) {', '.join(missing)} not installed")
                    continue
                self.went("EXPL", key, "explore.tree_model (tree importance)",
                          f"explore.tree_model={_yaml_value(chosen)}")
                importance.append("tree")
                analyses.append("features")
            elif key == "scatter":
                self.went("EXPL", key, "explore.scatter", f"explore.scatter={_yaml_value(_listify(value))}")
                analyses.append("scatter")
            elif key == "feature_distributions":
                self.went("EXPL", key, "explore.analyses includes features")
                analyses.append("features")
            elif key == "max_feats":
                self.went("EXPL", key, "explore.top_k", f"explore.top_k={int(value)}")
            elif key in ("shap", "permutation"):
                if value:
                    importance.append(key)
                    analyses.append("features")
                self.went("EXPL", key, f"explore.importance includes {key}" if value else "no effect (off)")
            elif key == "dist_type":
                kind = {"hist": "box", "kde": "violin"}.get(str(value), str(value))
                if kind in ("violin", "box"):
                    self.went("EXPL", key, "explore.distribution", f"explore.distribution={kind}")
                else:
                    self.bad("EXPL", key, "nk's distribution plots are violin or box")
            elif key == "sample_selection":
                self.went("EXPL", key, f"no effect: nkululeko 1.14.1 does not read this key "
                          f"({NOT_READ['EXPL.sample_selection']}); nk explore explores every row")
            elif key == "print_stats":
                self.went("EXPL", key, f"no effect: {NO_EFFECT['EXPL.print_stats']}")
            else:
                self.bad("EXPL", key, KNOWN_MISSING.get(f"EXPL.{key}") or self._nearest(
                    key, ["value_counts", "model", "scatter", "feature_distributions", "max_feats", "shap",
                          "permutation", "dist_type"]))
        self.out.overrides.append(f"explore.analyses={_yaml_value(list(dict.fromkeys(analyses)))}")
        if importance:
            self.out.overrides.append(f"explore.importance={_yaml_value(list(dict.fromkeys(importance)))}")

    def _flags(self) -> None:
        section = self.ini.sections.get("FLAGS", {})
        for key, (value, _) in section.items():
            values = _listify(value)
            if key in ("models", "model"):
                names = [MODELS.get(str(v), str(v)) for v in values]
                missing = [n for n in names if not self.has("model", n)]
                if missing:
                    self.bad("FLAGS", key, f"model(s) {', '.join(missing)} not installed")
                    continue
                sweep = f"model={','.join(names)}"
            elif key == "features":
                comps = [self._feature("FLAGS", key, str(v)) for v in values]
                if any(c is None for c in comps):
                    continue
                sweep = f"feats={','.join(str(c) for c in comps)}"
            elif key == "balancing":
                bals = [BALANCERS.get(str(v).lower()) for v in values]
                if any(b is None for b in bals):
                    self.bad("FLAGS", key, "unknown balancing in " + repr(values))
                    continue
                sweep = f"balance={','.join(str(b) for b in bals)}"
            elif key == "scale":
                scales = [SCALERS.get(str(v).lower()) for v in values]
                if any(s is None for s in scales):
                    self.bad("FLAGS", key, "unknown scale in " + repr(values))
                    continue
                sweep = f"scale={','.join(str(s) for s in scales)}"
            else:
                self.bad("FLAGS", key, self._nearest(key, ["models", "features", "balancing", "scale"]))
                continue
            self.handled.add(("FLAGS", key))
            self.out.where.append((f"FLAGS.{key}", self.line("FLAGS", key), f"a sweep: {sweep}"))
            self.sweeps.append(sweep)
            self.note("flags")

    def _optim(self) -> None:
        section = self.ini.sections.get("OPTIM", {})
        if not section:
            return
        grid: dict[str, list[Any]] = {}
        model = section.get("model", (None, 0))[0]
        searched = None if model is None else MODELS.get(str(model), str(model))
        if searched is not None and self.model is None and self.has("model", searched):
            self.model = searched
            self.out.overrides.append(f"model={searched}")
        for key, (value, _) in section.items():
            if key == "model":
                if searched is not None and searched == self.model and self.has("model", searched):
                    self.went("OPTIM", key, f"model={searched} (the model searched)")
                else:
                    self.bad("OPTIM", key, f"the model searched ({model!r}) must be MODEL.type ({self.model!r}) "
                             "and installed")
            elif key == "search_strategy" and str(value).lower() == "grid":
                self.went("OPTIM", key, "nk's search (search.params) is a grid search on dev")
            elif key == "search_strategy":
                self.bad("OPTIM", key, f"search_strategy {value!r}: nk's search (search.params) tries the whole "
                         "grid on dev; it has no random or halving search")
            elif key == "metric":
                if str(value).lower() in ("uar", "ccc"):
                    self.went("OPTIM", key, "nk's primary metric (UAR / CCC) on dev")
                else:
                    self.bad("OPTIM", key, f"metric {value!r}: nk's search chooses on the primary metric "
                             "(UAR for classification, CCC for regression)")
            elif (name := self._model_param("OPTIM", OPTIM_ALIASES.get(key, key))) is not None and isinstance(
                    value, list):
                try:
                    grid[name] = [_value_of(name, v) for v in value]
                except ValueError as exc:
                    self.bad("OPTIM", key, str(exc))
                    continue
                self.went("OPTIM", key, f"search.params.{name} (chosen on dev)")
            else:
                self.bad("OPTIM", key, KNOWN_MISSING.get(f"OPTIM.{key}") or
                         f"model {self.model!r} has no parameter for {key!r} in nk, or the value is not a list")
        if grid:
            self.out.overrides.append(f"search.params={_yaml_value(grid)}")
            self.note("dev")

    def _plot(self) -> None:
        value = self.ini.get("PLOT", "format")
        if value is None:
            return
        if str(value).lower() in ("png", "svg", "pdf"):
            if self.out.command == "explore":
                self.went("PLOT", "format", "explore.formats", f"explore.formats=[{str(value).lower()}]")
            else:
                self.went("PLOT", "format", "no effect: nk run writes PNG plots (nk explore: explore.formats)")
        else:
            self.bad("PLOT", "format", f"format {value!r}: nk's plots are png, svg or pdf")

    def _report(self) -> None:
        section = self.ini.sections.get("REPORT", {})
        for key, (value, _) in section.items():
            if key == "latex":
                self.went("REPORT", key, "document.pdf (report.tex compiled to PDF)",
                          f"document.pdf={'always' if value else 'never'}")
            elif key in ("title", "author"):
                self.went("REPORT", key, f"document.{key}", f"document.{key}={_yaml_value(str(value))}")
            elif key == "fresh":
                self.went("REPORT", key, f"no effect: {NO_EFFECT['REPORT.fresh']}")
            else:
                self.bad("REPORT", key, self._nearest(key, ["latex", "title", "author", "fresh"]))

    def _rest(self) -> None:
        """Every key no section handler took: no effect, a known missing feature, or a typo."""
        for section, keys in self.ini.sections.items():
            for key in keys:
                if (section, key) in self.handled:
                    continue
                full = f"{section}.{key}"
                if full in NOT_READ:
                    self.went(section, key, f"no effect: nkululeko 1.14.1 does not read this key ({NOT_READ[full]})")
                elif NO_EFFECT.get(full):
                    self.went(section, key, f"no effect: {NO_EFFECT[full]}")
                elif KNOWN_MISSING.get(full):
                    self.bad(section, key, KNOWN_MISSING[full])
                elif KNOWN_MISSING.get(section):
                    self.bad(section, key, KNOWN_MISSING[section])
                elif section == "DATA":
                    self.bad(section, key, self._nearest(key, [
                        "databases", "target", "labels", "bins", "limit_samples", "limit_samples_per_speaker",
                        "min_duration_of_sample", "max_duration_of_sample", "filter"]))
                elif section == "EXP":
                    self.bad(section, key, self._nearest(key, ["root", "name", "runs", "epochs", "save", "type",
                                                               "traindevtest", "random_seed"]))
                else:
                    sections = ["EXP", "DATA", "FEATS", "MODEL", "EXPL", "FLAGS", "OPTIM", "REPORT", "PLOT",
                                "RESAMPLE"]
                    close = difflib.get_close_matches(section, sections, n=1)
                    self.bad(section, key, f"section [{section}] is not known to nk"
                             + (f"; did you mean [{close[0]}]?" if close else ""))


def translate(path: str | os.PathLike[str], components: Components, *, ignore: Iterable[str] = ()) -> Translation:
    """Translate the nkululeko INI file at ``path`` for the installed ``components``.

    Raises :class:`UserError` for a malformed file; unsupported keys are collected in
    ``Translation.unsupported`` (:meth:`Translation.check` raises for them)."""
    return _Translator(read_ini(path), components, ignore).run()


def with_provenance(cfg: Any, provenance: Mapping[str, Any] | None) -> Any:
    """A copy of the composed (read-only) ``cfg`` with a top-level ``provenance`` entry, which
    the run folder's config.yaml records."""
    if not provenance:
        return cfg
    from copy import deepcopy

    from omegaconf import OmegaConf, open_dict

    copy = deepcopy(cfg)
    OmegaConf.set_readonly(copy, False)
    with open_dict(copy):
        copy.provenance = dict(provenance)
    OmegaConf.set_readonly(copy, True)
    return copy
