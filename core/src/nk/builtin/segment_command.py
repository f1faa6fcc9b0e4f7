"""Built-in subcommand ``nk segment``: cut the data into speech segments and write them.

It runs the load and segment stages of ``nk run`` (:mod:`nk.stages`) with the configured
segmenter (``segment=silero``, ``segment=diarize`` …) and writes, into
``<results_root>/<name>/<time>-segment/``:

- ``segments.csv``: ``file, start, end`` (seconds) and the data's own columns, one row per
  segment — ``data=csv data.csv.path=…/segments.csv`` loads it again;
- ``silences.csv``: the pauses between (and before/after) the segments of each file;
- ``files.csv``: per file its duration, speech seconds, speech ratio, segment count and
  segment durations (mean, median, min, max); ``segment_durations.png``: their histogram;
- with ``segmentation.export_audio=true``, each segment as an audio file below ``audio/`` and
  ``segment_files.csv`` (one row per exported file, which ``data=csv`` also loads);
- when the segmenter names speakers (a ``diarized_speaker`` column), ``speakers.csv`` and
  ``speakers.png``: segments and seconds per speaker and file;
- ``segment.json``: the totals.

Options live in the ``segmentation`` section (``nk segment --cfg`` shows it); ``segment`` is
the component group.
"""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.hookspecs import hookimpl
from nk.registry import param

if TYPE_CHECKING:
    import pandas as pd

    from nk.cli import App
    from nk.context import RunContext
    from nk.registry import AddSection

SPEAKER_COLUMN = "diarized_speaker"
"""The column a diarizing segmenter writes: the speaker of each segment within its file."""

SEGMENT_EPILOG = """\
examples:
  nk segment data=csv data.csv.path=long.csv segment=silero     speech segments of long recordings
  nk segment segment=silero segment.max_segment=8 segment.min_speech=0.5
  nk segment segment=silero segmentation.export_audio=true segmentation.audio_format=flac
  nk segment segment=diarize                                    segments with a speaker each
  nk run data=csv data.csv.path=results/…/segments.csv          train on the segments

Config groups and overrides are those of `nk run`; the `segmentation` section holds this
command's options. Results go to <results_root>/<name>/<time>-segment/.
"""


class AudioFormat(enum.Enum):
    wav = "wav"
    flac = "flac"


@dataclass
class SegmentationConfig:
    """Options of ``nk segment`` (the segmenter's own are under ``segment``)."""

    export_audio: bool = param(False, help="also write every segment as an audio file below audio/")
    audio_format: AudioFormat = param(AudioFormat.wav, help="format of exported segments: wav | flac")
    sampling_rate: int = param(0, ge=0, help="rate of exported segments in Hz (0: each file's own)")
    bins: int = param(30, ge=1, help="bins of the segment-duration histogram")


@hookimpl
def nk_add_config_sections(add: AddSection) -> None:
    add("segmentation", SegmentationConfig, help="what `nk segment` writes besides the segment table")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "segment", help="cut the data into speech segments (VAD, diarization) and write their table",
        epilog=SEGMENT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compose a config from overrides (Hydra syntax, as for `nk run`), load the data, "
                    "segment it with the selected segmenter and write segments.csv (loadable with "
                    "data=csv), silences.csv, per-file statistics and a histogram.",
    )
    cmd.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    cmd.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    from nk.builtin.ini_command import add_config_option

    add_config_option(cmd)
    cmd.set_defaults(handler=_segment)


def _segment(args: argparse.Namespace, app: App) -> int:
    from omegaconf import OmegaConf

    from nk.builtin.ini_command import command_config
    from nk.errors import UserError
    from nk.pipeline import run_in_folder
    from nk.results import new_run_dir

    cfg = command_config(args, app, "segment")
    if cfg.get("segment") is None:
        raise UserError("nk segment needs a segmenter", where="config group segment",
                        allowed=", ".join(app.pm.registry.names("segment")) or "none installed "
                        "(pip install nk-silero)", todo="add e.g. `segment=silero`")
    if args.cfg:
        app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="segment")
    app.console.print(f"[bold]nk segment[/] {cfg.name} → {run_dir}", highlight=False)
    result = run_in_folder(cfg, app.pm, run_dir, app.console, "segment", segment_corpus)
    totals = result["totals"]
    app.console.print(
        f"{totals['segments']} segments in {totals['files']} files "
        f"({totals['files_without_speech']} without speech); speech {totals['speech_s']:.1f} s of "
        f"{totals['duration_s']:.1f} s ({100 * totals['speech_ratio']:.0f} %). "
        f"Table: {run_dir / 'segments.csv'}", highlight=False)
    return 0


def segment_corpus(ctx: RunContext) -> dict[str, Any]:
    """Load and segment the configured data into ``ctx.run_dir``; returns ``segment.json``."""
    import json

    from nk import stages

    loaded = stages.load(ctx, labelled=False)  # long recordings need no labels to be cut
    original = loaded.frame
    frame = stages.segment(ctx, original)
    tables = segment_tables(frame, original)
    out = ctx.run_dir
    tables["segments"].drop(columns=["duration"]).to_csv(out / "segments.csv", index=False)
    tables["silences"].to_csv(out / "silences.csv", index=False)
    tables["files"].to_csv(out / "files.csv", index=False)
    written = ["segments.csv", "silences.csv", "files.csv"]
    scfg = ctx.cfg.segmentation
    if len(tables["segments"]):
        _histogram(tables["segments"], out / "segment_durations.png", int(scfg.bins))
        written.append("segment_durations.png")
    if SPEAKER_COLUMN in tables["segments"].columns:
        speakers = speaker_table(tables["segments"])
        speakers.to_csv(out / "speakers.csv", index=False)
        _speaker_plot(speakers, out / "speakers.png")
        written += ["speakers.csv", "speakers.png"]
    if scfg.export_audio:
        exported = export_segments(tables["segments"], out / "audio", _enum(scfg.audio_format).value,
                                   int(scfg.sampling_rate) or None)
        exported.to_csv(out / "segment_files.csv", index=False)
        written.append("segment_files.csv")
    files = tables["files"]
    duration = float(files["duration_s"].sum())
    speech = float(files["speech_s"].sum())
    result = {
        "totals": {"files": len(files), "segments": len(tables["segments"]),
                   "files_without_speech": int((files["segments"] == 0).sum()),
                   "duration_s": round(duration, 3), "speech_s": round(speech, 3),
                   "speech_ratio": round(speech / duration, 4) if duration else 0.0},
        "segmenter": [name for name, _ in _selected(ctx)],
        "files": written,
    }
    (out / "segment.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _selected(ctx: RunContext) -> list[tuple[str, dict[str, Any]]]:
    from nk.config import selected

    return selected(ctx.cfg, "segment")


def _enum(value: Any) -> AudioFormat:
    from nk.config import as_enum

    return as_enum(value, AudioFormat)


def segment_tables(frame: pd.DataFrame, original: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The segment, silence and per-file tables of a segmented ``frame`` (``original``: the
    unsegmented corpus, for the files without speech and each file's own columns)."""
    import numpy as np
    import pandas as pd
    import soundfile as sf

    public = [c for c in frame.columns if not str(c).startswith("_") and c != "duration"]
    segments = pd.DataFrame({
        "file": frame.index.get_level_values("file").astype(str),
        "start": frame.index.get_level_values("start").total_seconds().to_numpy().round(3),
        "end": frame.index.get_level_values("end").total_seconds().to_numpy().round(3),
    })
    for column in public:
        segments[column] = frame[column].to_numpy()
    originals = (original.index.get_level_values("file") if isinstance(original.index, pd.MultiIndex)
                 else original.index).astype(str)
    silences, stats = [], []
    by_file = {f: g for f, g in segments.groupby("file", sort=False)}
    segments = segments.assign(duration=(segments["end"] - segments["start"]).round(3))
    for file in dict.fromkeys(originals):
        duration = float(sf.info(file).duration)
        group = by_file.get(file)
        spans = [] if group is None else sorted(zip(group["start"], group["end"], strict=True))
        now = 0.0
        for s, e in [*spans, (duration, duration)]:
            if s - now > 1e-3:
                silences.append({"file": file, "start": round(now, 3), "end": round(s, 3),
                                 "duration": round(s - now, 3)})
            now = max(now, e)
        lengths = np.array([e - s for s, e in spans]) if spans else np.zeros(0)
        speech = float(lengths.sum())
        stats.append({"file": file, "duration_s": round(duration, 3), "speech_s": round(speech, 3),
                      "speech_ratio": round(speech / duration, 4) if duration else 0.0,
                      "segments": len(spans),
                      **{f"segment_{name}_s": (round(float(fn(lengths)), 3) if len(lengths) else np.nan)
                         for name, fn in (("mean", np.mean), ("median", np.median), ("min", np.min),
                                          ("max", np.max))}})
    return {"segments": segments,
            "silences": pd.DataFrame(silences, columns=["file", "start", "end", "duration"]),
            "files": pd.DataFrame(stats)}


def speaker_table(segments: pd.DataFrame) -> pd.DataFrame:
    """Segments and speech seconds per file and diarized speaker."""
    grouped = segments.groupby(["file", SPEAKER_COLUMN], sort=True)["duration"]
    return grouped.agg(segments="count", speech_s="sum").reset_index()


def export_segments(segments: pd.DataFrame, folder: Path, audio_format: str,
                    sampling_rate: int | None) -> pd.DataFrame:
    """Write each segment as ``folder/<file stem>_<start ms>-<end ms>.<format>``; returns the table
    of the written files (``file`` = the new file, ``source_file``, ``source_start``, ``source_end``
    and the segment's columns)."""
    import soundfile as sf

    from nk.audio import read

    folder.mkdir(parents=True, exist_ok=True)
    rows: list[Path] = []
    for row in segments.itertuples(index=False):
        signal, rate = read(row.file, sampling_rate=sampling_rate, start=row.start, end=row.end)
        stem = Path(row.file).stem
        target = folder / f"{stem}_{round(row.start * 1000):08d}-{round(row.end * 1000):08d}.{audio_format}"
        if target.exists():  # two source files with the same stem
            target = target.with_name(f"{stem}_{len(rows)}_{target.name[len(stem) + 1:]}")
        sf.write(target, signal, rate, subtype="PCM_16")
        rows.append(target)
    out = segments.drop(columns=["duration"]).rename(
        columns={"file": "source_file", "start": "source_start", "end": "source_end"})
    out.insert(0, "file", [str(p) for p in rows])
    return out


def _histogram(segments: pd.DataFrame, path: Path, bins: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(segments["duration"], bins=bins, color="#4C72B0")
    ax.set_xlabel("segment duration (s)")
    ax.set_ylabel("segments")
    ax.set_title(f"{len(segments)} segments, median {segments['duration'].median():.2f} s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _speaker_plot(speakers: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = speakers.groupby("file")[SPEAKER_COLUMN].nunique().value_counts().sort_index()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar([str(k) for k in counts.index], counts.to_numpy(), color="#55A868")
    ax.set_xlabel("speakers found in a file")
    ax.set_ylabel("files")
    ax.set_title("Speakers per file (diarization)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
