"""Benchmark (not a test): VAD and diarization on real speech with known boundaries and speakers.

    .venv/bin/python bench/bench_audiostages.py --polish ../shared/data/polish/polish_speech_emotions.zip

Long recordings are built from the Polish emotional-speech corpus (450 single-word utterances
of 5 speakers, 16 kHz; any copy of ``POLISH/*.wav``, zipped or unzipped): utterances separated by
0.5–2 s of faint noise. The truth of each utterance is its speech region, taken as the frames
(10 ms) within 40 dB of the utterance's loudest — a reference independent of silero.

Printed: for ``segment=silero`` (onnx backend, defaults) the frame accuracy and the median
boundary error against that truth, how many utterances were found (a segment overlaps them) and
the real-time factor of both backends; for ``segment=diarize`` on recordings alternating two
speakers, how often it finds two speakers and the share of speech given to the right speaker
(best mapping of found labels to the two voices, over the speech the turns cover). Also the same on synthetic bursts (``nk.testing.write_speech_bursts``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from importlib.util import find_spec
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from nk.audio import read
from nk.testing import boundary_errors, frame_accuracy, write_speech_bursts

RATE = 16000


def utterances(source: Path, folder: Path) -> dict[str, list[Path]]:
    if source.suffix == ".zip":
        with zipfile.ZipFile(source) as z:
            z.extractall(folder)
        source = folder
    by_speaker: dict[str, list[Path]] = {}
    for path in sorted(source.rglob("*.wav")):
        by_speaker.setdefault(path.name.split(".")[0], []).append(path)
    return by_speaker


def speech_region(x: np.ndarray) -> tuple[float, float]:
    n = RATE // 100
    frames = x[: len(x) // n * n].reshape(-1, n).astype(np.float64)
    level = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-20)
    loud = np.flatnonzero(level >= level.max() - 40)
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def concatenate(paths: list[Path], out: Path, rng: np.random.Generator) -> list[tuple[float, float, int]]:
    parts, truth, now = [], [], 0.0
    for k, path in enumerate(paths):
        gap = 0.002 * rng.standard_normal(int(rng.uniform(0.5, 2.0) * RATE))
        parts.append(gap)
        now += len(gap) / RATE
        x, _ = read(path, sampling_rate=RATE)
        s, e = speech_region(x)
        truth.append((now + s, now + e, k))
        parts.append(x)
        now += len(x) / RATE
    parts.append(0.002 * rng.standard_normal(RATE))
    sf.write(out, np.concatenate(parts).astype(np.float32), RATE)
    return truth


def vad(files: list[tuple[Path, list[tuple[float, float, int]]]], backend: str) -> dict[str, float]:
    from nk_silero import Backend, Silero

    seg = Silero(threshold=0.5, neg_threshold=0.0, min_speech=0.25, min_silence=0.1, max_segment=0.0,
                 padding=0.03, trim_db=35.0, merge_gap=0.0, backend=Backend[backend])
    seg.model()
    acc, errors, found, total, seconds, audio = [], [], 0, 0, 0.0, 0.0
    for path, truth in files:
        x, _ = read(path, sampling_rate=RATE)
        started = time.perf_counter()
        segments = seg.speech(x, RATE)
        seconds += time.perf_counter() - started
        audio += len(x) / RATE
        spans = [(s, e) for s, e, _ in truth]
        acc.append(frame_accuracy(spans, segments, len(x) / RATE))
        errors += list(boundary_errors(spans, segments))
        found += sum(any(min(b, e) > max(a, s) for a, b in segments) for s, e in spans)
        total += len(spans)
    return {"frame_accuracy": float(np.mean(acc)), "median_boundary_ms": 1000 * float(np.median(errors)),
            "found": found / total, "rtf": seconds / audio}


def diarization(files: list[tuple[Path, list[tuple[float, float, int]]]], threshold: float,
                n_speakers: int = 0) -> dict[str, float]:
    from nk_diarize import Diarize

    d = Diarize(n_speakers=n_speakers, max_speakers=8, threshold=threshold, window=1.5, hop=0.75, vad_threshold=0.5,
                min_speech=0.25, min_silence=0.1, padding=0.03)
    two, right, speech, seconds, audio, counts = 0, 0.0, 0.0, 0.0, 0.0, []
    for path, truth in files:
        frame = pd.DataFrame({"x": [0]}, index=pd.Index([str(path)], name="file"))
        started = time.perf_counter()
        out = d.segment(frame, None)
        seconds += time.perf_counter() - started
        audio += sf.info(str(path)).duration
        turns = [(i[1].total_seconds(), i[2].total_seconds(), w)
                 for i, w in zip(out.index, out["diarized_speaker"], strict=True)]
        labels = sorted({w for _, _, w in turns})
        two += len(labels) == 2
        counts.append(len(labels))
        best = 0.0
        for perm in permutations(labels, min(2, len(labels))):
            mapping = dict(zip(perm, (0, 1), strict=False))
            ok = sum(max(0.0, min(b, e) - max(a, s)) for s, e, v in truth for a, b, w in turns
                     if mapping.get(w) == v % 2)
            best = max(best, ok)
        right += best
        speech += sum(max(0.0, min(b, e) - max(a, s)) for s, e, _ in truth for a, b, _ in turns)  # covered
    return {"two_speakers": two / len(files), "speech_to_right_speaker": right / speech, "rtf": seconds / audio,
            "counts": counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polish", type=Path, default=Path("../shared/data/polish/polish_speech_emotions.zip"))
    parser.add_argument("--recordings", type=int, default=6, help="recordings per measurement")
    parser.add_argument("--per-recording", type=int, default=12, help="utterances per recording")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3], help="diarize thresholds to try")
    parser.add_argument("--skip-vad", action="store_true", help="diarization only")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        speakers = utterances(args.polish, folder / "polish")
        names = sorted(speakers)
        single, pairs, synthetic = [], [], []
        for r in range(args.recordings):
            pool = speakers[names[r % len(names)]]
            chosen = [pool[i] for i in rng.choice(len(pool), args.per_recording, replace=False)]
            single.append((folder / f"one{r}.wav", concatenate(chosen, folder / f"one{r}.wav", rng)))
            a, b = names[r % len(names)], names[(r + 1) % len(names)]
            mixed = [speakers[(a, b)[k % 2]][int(rng.integers(len(speakers[(a, b)[k % 2]])))]
                     for k in range(args.per_recording)]
            pairs.append((folder / f"two{r}.wav", concatenate(mixed, folder / f"two{r}.wav", rng)))
            path = folder / f"synth{r}.wav"
            synthetic.append((path, write_speech_bursts(path, bursts=args.per_recording, seed=r,
                                                        voices=((115.0, 1.0), (175.0, 1.15)))))
        print(f"{args.recordings} recordings × {args.per_recording} utterances each")
        for name, files in (() if args.skip_vad else (("polish", single), ("synthetic", synthetic))):
            for backend in ("onnx", "torch") if find_spec("torch") else ("onnx",):
                if backend == "torch" and name == "synthetic":
                    continue
                r = vad(files, backend)
                print(f"silero {backend:5s} {name:9s}: frame accuracy {r['frame_accuracy']:.3f}, median boundary "
                      f"error {r['median_boundary_ms']:.0f} ms, utterances found {r['found']:.3f}, "
                      f"{1 / r['rtf']:.0f}× real time")
        for name, files in (("polish", pairs), ("synthetic", synthetic)):
            for threshold in args.thresholds:
                r = diarization(files, threshold)
                print(f"diarize {name:9s} threshold {threshold}: 2 speakers found in {r['two_speakers']:.2f} of "
                      f"recordings (speakers found: {r['counts']}), speech given to the right speaker "
                      f"{r['speech_to_right_speaker']:.3f}, {1 / r['rtf']:.1f}× real time")
            r = diarization(files, 0.3, n_speakers=2)
            print(f"diarize {name:9s} n_speakers=2: speech given to the right speaker "
                  f"{r['speech_to_right_speaker']:.3f}")


if __name__ == "__main__":
    main()
