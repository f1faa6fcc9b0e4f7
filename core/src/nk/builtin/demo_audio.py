"""Deterministic synthetic emotional-speech corpus, used as nk's default demo data.

Every file is generated in code by a small source-filter synthesiser: a Rosenberg
glottal pulse train (with jitter, shimmer, aspiration noise and extra spectral tilt)
driven by an F0 contour (declination, pitch accents, boundary tone, slow drift) is
passed through a cascade of five formant resonators whose targets change per
syllable (different vowels). Syllables get amplitude envelopes, some start with
fricative noise or a stop burst, words are separated by short pauses, and a low
background noise is added.

Emotions differ in pitch level and range, tempo, loudness and voice quality, but
every speaker expresses them with an individual strength and individual offsets,
each file has its own random variation, and recording level varies per speaker, so
a speaker-independent classifier can learn the task without solving it perfectly.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import soundfile as sf

# scipy.signal (0.5 s to import) is imported by the functions that synthesise: loading an
# already synthesised corpus imports this module for SYNTHESIS_VERSION only

__all__ = ["EMOTIONS", "SPEAKERS", "SYNTHESIS_VERSION", "SpeakerSpec", "synthesize_corpus"]

SYNTHESIS_VERSION = 2
"""Bumped whenever the synthesis changes, so that a cached demo corpus is made anew."""

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "angry", "sad")


@dataclass(frozen=True)
class SpeakerSpec:
    """Fixed voice characteristics of one synthetic speaker."""

    speaker: str
    gender: str  # "female" or "male"
    age: int
    f0_hz: float  # habitual median F0 in neutral speech
    vtl_scale: float  # formant scale vs. an adult male vocal tract (shorter tract -> > 1)
    breathiness: float  # 0 = modal/pressed .. 1 = very breathy
    rate: float  # habitual speaking-rate factor


def _spk(n: int, gender: str, age: int, f0: float, vtl: float, breath: float, rate: float) -> SpeakerSpec:
    return SpeakerSpec(f"spk{n:02d}", gender, age, f0, vtl, breath, rate)


# Genders alternate so that every even-length prefix is balanced, and ages are spread
# so that the first 8 speakers already cover the 20s to the 70s. Older women have lower
# and older men slightly higher F0; older voices are breathier and slower.
SPEAKERS: tuple[SpeakerSpec, ...] = (
    _spk(1, "female", 23, 228.0, 1.18, 0.30, 1.05),
    _spk(2, "male", 27, 118.0, 1.00, 0.15, 1.06),
    _spk(3, "female", 67, 178.0, 1.12, 0.45, 0.90),
    _spk(4, "male", 71, 134.0, 0.96, 0.45, 0.86),
    _spk(5, "female", 41, 205.0, 1.16, 0.20, 1.00),
    _spk(6, "male", 45, 108.0, 0.98, 0.20, 1.00),
    _spk(7, "female", 34, 214.0, 1.20, 0.35, 1.08),
    _spk(8, "male", 31, 98.0, 0.95, 0.10, 1.07),
    _spk(9, "female", 58, 188.0, 1.14, 0.40, 0.95),
    _spk(10, "male", 62, 128.0, 0.99, 0.35, 0.92),
    _spk(11, "female", 72, 172.0, 1.10, 0.55, 0.85),
    _spk(12, "male", 24, 124.0, 1.03, 0.20, 1.10),
    _spk(13, "female", 29, 236.0, 1.22, 0.25, 1.10),
    _spk(14, "male", 52, 112.0, 0.97, 0.25, 0.97),
    _spk(15, "female", 49, 196.0, 1.15, 0.30, 0.98),
    _spk(16, "male", 36, 102.0, 1.01, 0.15, 1.03),
    _spk(17, "female", 26, 221.0, 1.17, 0.15, 1.02),
    _spk(18, "male", 68, 131.0, 0.98, 0.40, 0.88),
    _spk(19, "female", 63, 183.0, 1.13, 0.50, 0.92),
    _spk(20, "male", 22, 121.0, 1.04, 0.25, 1.09),
    _spk(21, "female", 38, 210.0, 1.19, 0.20, 1.04),
    _spk(22, "male", 43, 96.0, 0.94, 0.20, 1.01),
    _spk(23, "female", 54, 192.0, 1.16, 0.35, 0.96),
    _spk(24, "male", 57, 115.0, 1.00, 0.30, 0.95),
)

# Prosody/voice-quality parameters, in this order, per emotion (rows follow EMOTIONS).
#   f0_st: pitch level shift (semitones)   range_st: pitch-accent height (semitones)
#   log_rate: log speaking-rate factor     level_db: loudness shift (dB)
#   oq: glottal open quotient (low = pressed/bright, high = lax/dull)
#   tilt: extra one-pole low-pass coefficient (spectral tilt)
#   aspiration: breath-noise/pulse ratio   formant: relative F1/F2 shift
#   jitter: relative cycle-to-cycle F0 sd  log_pause: log scaling of pauses
_N_PARAMS = 10
_STYLES: tuple[tuple[float, ...], ...] = (
    (0.0, 2.5, 0.00, 0.0, 0.60, 0.30, 0.05, 0.00, 0.010, 0.0),  # neutral
    (3.0, 5.0, 0.08, 2.5, 0.55, 0.22, 0.05, 0.04, 0.010, -0.2),  # happy
    (1.8, 3.5, 0.13, 6.5, 0.42, 0.04, 0.03, 0.06, 0.015, -0.3),  # angry
    (-1.8, 1.1, -0.23, -5.5, 0.76, 0.50, 0.16, -0.03, 0.012, 0.4),  # sad
)
# Speaker-specific deviation of every (speaker, emotion) cell; comparable to the emotion
# effects, so that emotion is partly confounded with speaker idiosyncrasies.
_SPEAKER_SD: tuple[float, ...] = (0.8, 0.7, 0.05, 1.6, 0.035, 0.06, 0.025, 0.015, 0.003, 0.2)
# Per-utterance variation within a (speaker, emotion) cell.
_FILE_SD: tuple[float, ...] = (0.9, 0.7, 0.07, 2.0, 0.04, 0.07, 0.03, 0.02, 0.003, 0.2)
_LOWER: tuple[float, ...] = (-8.0, 0.3, -0.6, -15.0, 0.35, 0.0, 0.0, -0.10, 0.002, -1.0)
_UPPER: tuple[float, ...] = (8.0, 8.0, 0.5, 15.0, 0.85, 0.85, 0.35, 0.12, 0.040, 1.0)

# Adult male reference formants F1-F3 (Hz) of a few vowels (i, e, ae, a, o, u, schwa).
_VOWELS: tuple[tuple[float, float, float], ...] = (
    (270.0, 2290.0, 3010.0),
    (530.0, 1840.0, 2480.0),
    (660.0, 1720.0, 2410.0),
    (730.0, 1090.0, 2440.0),
    (570.0, 840.0, 2410.0),
    (300.0, 870.0, 2240.0),
    (500.0, 1500.0, 2500.0),
)
_F45 = (3500.0, 4500.0)  # higher formants, roughly vowel independent
_BANDWIDTHS = (80.0, 100.0, 140.0, 200.0, 260.0)
# Fricative noise bands (Hz) for s-, sh- and f-like consonants.
_FRICATIVES: tuple[tuple[float, float], ...] = (
    (4200.0, 7800.0),
    (2200.0, 5000.0),
    (1200.0, 7000.0),
)

_MIN_DUR, _MAX_DUR = 1.0, 2.5
_SPEECH_DBFS = -27.0  # neutral voiced RMS level before speaker/emotion offsets


@dataclass(frozen=True)
class _Params:
    """Effective parameters of one utterance."""

    f0_st: float
    range_st: float
    log_rate: float
    level_db: float
    oq: float
    tilt: float
    aspiration: float
    formant: float
    jitter: float
    log_pause: float


def _speaker_deviations(rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Draw a speaker's expressivity and per-emotion parameter offsets."""
    expressivity = float(rng.uniform(0.6, 1.3))
    offsets = rng.normal(size=(len(EMOTIONS), _N_PARAMS)) * np.asarray(_SPEAKER_SD)
    offsets[0] *= 0.5  # neutral is the speaker's own baseline, so it deviates less
    return expressivity, offsets


def _utterance_params(
    rng: np.random.Generator, emotion: int, expressivity: float, offsets: np.ndarray
) -> _Params:
    styles = np.asarray(_STYLES)
    value = styles[0] + expressivity * (styles[emotion] - styles[0]) + offsets[emotion]
    value = value + rng.normal(size=_N_PARAMS) * np.asarray(_FILE_SD)
    value = np.clip(value, _LOWER, _UPPER)
    return _Params(*(float(v) for v in value))


def _ramp(n: int, attack: int, release: int) -> np.ndarray:
    """Raised-cosine on/off envelope of length n."""
    env = np.ones(n)
    a = max(1, min(attack, n // 2))
    r = max(1, min(release, n - a))
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(a) + 0.5) / a)
    env[n - r :] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
    return env


@dataclass(frozen=True)
class _Nucleus:
    start: int
    length: int
    formants: np.ndarray  # (5,) Hz
    amplitude: float
    accent_st: float  # pitch-accent height, 0 for unaccented syllables


@dataclass(frozen=True)
class _Noise:
    start: int
    length: int
    band: int  # index into _FRICATIVES, -1 for a stop burst
    level_db: float


def _layout(
    rng: np.random.Generator, spk: SpeakerSpec, p: _Params, sr: int
) -> tuple[int, list[_Nucleus], list[_Noise]]:
    """Plan syllables, consonants and pauses of one utterance (times in samples)."""
    rate = spk.rate * math.exp(p.log_rate)
    syllable = 0.18 / rate
    lead = rng.uniform(0.08, 0.2)
    trail = rng.uniform(0.1, 0.25)
    limit = _MAX_DUR - trail - 0.02
    n_wanted = int(rng.integers(3, 10))
    t = lead
    # Per syllable: nucleus start, nucleus duration, vowel, amplitude, accent height.
    plan: list[tuple[float, float, int, float, float]] = []
    noises: list[tuple[float, float, int, float]] = []
    full = False
    while not full and (len(plan) < n_wanted or t + trail < _MIN_DUR):
        n_syl = int(rng.integers(1, 4))
        stressed = int(rng.integers(n_syl))
        accented = rng.random() < 0.7
        for s in range(n_syl):
            dur = syllable * math.exp(rng.normal(0.0, 0.2)) * (1.3 if s == stressed else 1.0)
            onset = rng.choice(3, p=(0.35, 0.35, 0.3))  # vowel, fricative, stop
            # Consonants shorten less than vowels when speaking fast.
            if onset == 1:
                cons = rng.uniform(0.05, 0.1) / math.sqrt(rate)
            elif onset == 2:
                cons = rng.uniform(0.04, 0.07) / math.sqrt(rate)
            else:
                cons = 0.0
            nucleus = max(0.06, dur - cons)
            if t + cons + nucleus > limit:
                full = True
                break
            if onset == 1:
                noises.append((t, cons, int(rng.integers(len(_FRICATIVES))), rng.normal(-16.0, 2.0)))
            elif onset == 2:
                burst = 0.012
                noises.append((t + cons - burst, burst, -1, rng.normal(-10.0, 2.0)))
            accent = 0.0
            if s == stressed and accented:
                # Mostly high accents, sometimes a low one.
                accent = p.range_st * (rng.uniform(0.6, 1.1) if rng.random() < 0.85 else -0.4)
            amp = 1.0 if s == stressed else rng.uniform(0.55, 0.8)
            plan.append((t + cons, nucleus, int(rng.integers(len(_VOWELS))), amp, accent))
            t += cons + nucleus
        if not full and rng.random() < 0.4:
            t += min(rng.uniform(0.05, 0.2) * math.exp(p.log_pause) / rate, max(0.0, limit - t))
    if plan:  # phrase-final lengthening, within the duration limit
        s0, d0, v0, a0, c0 = plan[-1]
        d_new = min(d0 * 1.3, limit - s0)
        plan[-1] = (s0, max(d0, d_new), v0, a0, c0)
        t = max(t, s0 + plan[-1][1])
    n_total = round(max(t + trail, _MIN_DUR) * sr)

    f_scale = spk.vtl_scale * np.array([1.0 + p.formant, 1.0 + 0.5 * p.formant, 1.0, 1.0, 1.0])
    nuclei = []
    for i, (start, dur, vowel, amp, accent) in enumerate(plan):
        formants = np.array(_VOWELS[vowel] + _F45) * f_scale * np.exp(rng.normal(0.0, 0.03, 5))
        decline = 1.0 - 0.3 * i / max(1, len(plan))  # amplitude declination over the phrase
        nuclei.append(_Nucleus(int(start * sr), int(dur * sr), formants, amp * decline, accent))
    noise_list = [_Noise(int(s * sr), max(1, int(d * sr)), b, lv) for s, d, b, lv in noises]
    return n_total, nuclei, noise_list


def _f0_contour(
    rng: np.random.Generator, spk: SpeakerSpec, p: _Params, nuclei: list[_Nucleus], n: int, sr: int
) -> np.ndarray:
    """Per-sample F0 in Hz (also defined in unvoiced stretches, where it is masked)."""
    hop = max(1, sr // 200)
    t = np.arange(n // hop + 2) * hop / sr
    dur = n / sr
    st = p.f0_st + rng.uniform(1.5, 3.5) * (0.5 - t / dur)  # declination
    if nuclei:
        centres = np.array([(x.start + 0.4 * x.length) / sr for x in nuclei])
        widths = np.array([0.35 * x.length / sr for x in nuclei])
        heights = np.array([x.accent_st for x in nuclei])
        st = st + (
            heights[:, None] * np.exp(-0.5 * ((t[None, :] - centres[:, None]) / widths[:, None]) ** 2)
        ).sum(0)
        last = nuclei[-1]
        # Boundary tone: usually a final fall, sometimes a question-like rise.
        tone = -0.6 * p.range_st if rng.random() < 0.8 else 0.8 * p.range_st
        t0, t1 = last.start / sr, (last.start + last.length) / sr
        st = st + tone * np.clip((t - t0) / max(t1 - t0, 1e-3), 0.0, 1.0)
    knots = np.arange(0.0, dur + 0.2, 0.1)  # slow random drift, one knot every 100 ms
    st = st + 0.4 * np.interp(t, knots, rng.normal(size=knots.size))
    f0 = spk.f0_hz * 2.0 ** (st / 12.0)
    f0 = np.clip(f0, 50.0, min(600.0, 0.2 * sr))
    return np.interp(np.arange(n), t * sr, f0)


def _glottal_source(
    rng: np.random.Generator, f0: np.ndarray, p: _Params, breathiness: float, sr: int
) -> tuple[np.ndarray, np.ndarray]:
    """Differentiated Rosenberg pulse train with jitter/shimmer; also returns the flow."""
    phase = np.cumsum(f0) / sr
    cycle = phase.astype(np.int64)
    jitter = rng.normal(0.0, p.jitter, cycle[-1] + 2)
    phase = np.cumsum(f0 * (1.0 + jitter[cycle])) / sr
    cycle = phase.astype(np.int64)
    shimmer = np.exp(rng.normal(0.0, 0.05 + 0.5 * p.jitter, cycle[-1] + 2))[cycle]
    frac = phase - cycle
    oq = min(0.9, p.oq + 0.1 * breathiness)
    tp, tn = 0.65 * oq, 0.35 * oq
    flow = np.where(
        frac < tp,
        0.5 - 0.5 * np.cos(np.pi * frac / tp),
        np.where(frac < tp + tn, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0),
    )
    # Differentiating the flow models lip radiation; the abrupt closure excites the tract.
    pulses = np.diff(flow, prepend=0.0) * shimmer
    return pulses, flow


def _formant_filter(x: np.ndarray, nuclei: list[_Nucleus], sr: int, bw_scale: float) -> np.ndarray:
    """Cascade of 5 second-order resonators whose targets glide between syllables."""
    from scipy import signal

    steps, step = 3, max(1, int(0.012 * sr))
    starts = [0]
    targets = [nuclei[0].formants]
    prev = nuclei[0].formants
    for nuc in nuclei:
        for k in range(steps):  # coarticulation: glide from the previous vowel in a few steps
            pos = nuc.start + k * step
            if pos >= nuc.start + nuc.length or pos <= starts[-1]:
                continue
            starts.append(pos)
            targets.append(prev + (nuc.formants - prev) * (k + 1) / steps)
        prev = nuc.formants
    freq = np.array(targets)
    bw = np.asarray(_BANDWIDTHS) * bw_scale * (1.0 + 0.1 * freq / 1000.0)
    r = np.exp(-np.pi * bw / sr)
    c = 2.0 * r * np.cos(2.0 * np.pi * freq / sr)
    a2 = r * r
    b0 = 1.0 - c + a2  # unity gain at DC, as in a Klatt cascade
    above = freq >= 0.45 * sr  # resonators beyond Nyquist become pass-throughs
    b0, c, a2 = np.where(above, 1.0, b0), np.where(above, 0.0, c), np.where(above, 0.0, a2)
    zeros = np.zeros_like(b0)
    sos = np.stack([b0, zeros, zeros, np.ones_like(b0), -c, a2], axis=-1)  # (segments, 5, 6)
    y = np.empty_like(x)
    zi = np.zeros((sos.shape[1], 2))
    bounds = [*starts, x.size]
    for s in range(len(starts)):
        a, b = bounds[s], bounds[s + 1]
        if b > a:
            y[a:b], zi = signal.sosfilt(sos[s], x[a:b], zi=zi)
    return y


def _synthesize_utterance(
    rng: np.random.Generator,
    spk: SpeakerSpec,
    p: _Params,
    gain_db: float,
    sr: int,
    fricative_sos: tuple[np.ndarray, ...],
) -> np.ndarray:
    from scipy import signal

    n, nuclei, noises = _layout(rng, spk, p, sr)
    f0 = _f0_contour(rng, spk, p, nuclei, n, sr)
    pulses, flow = _glottal_source(rng, f0, p, spk.breathiness, sr)

    env = np.zeros(n)
    for nuc in nuclei:
        seg = slice(nuc.start, nuc.start + nuc.length)
        env[seg] = nuc.amplitude * _ramp(env[seg].size, int(0.02 * sr), int(0.04 * sr))
    voiced = env > 0.05
    pulse_rms = math.sqrt(float(np.mean(pulses[voiced] ** 2))) if voiced.any() else 1.0
    # Breath noise is strongest while the glottis is open.
    breath = p.aspiration + 0.08 * spk.breathiness
    source = pulses + breath * pulse_rms * (0.3 + 0.7 * flow) * rng.standard_normal(n)
    source = signal.lfilter([1.0 - p.tilt], [1.0, -p.tilt], source * env)
    speech = _formant_filter(source, nuclei, sr, 1.0 + 0.6 * spk.breathiness)
    speech /= math.sqrt(float(np.mean(speech[env > 0.5] ** 2))) + 1e-12

    for noise in noises:
        pad = 64  # let the band-pass filter settle before the segment starts
        m = min(noise.length, n - noise.start)
        if m <= 0:
            continue
        white = rng.standard_normal(m + pad)
        if noise.band >= 0:
            burst = signal.sosfilt(fricative_sos[noise.band], white)[pad:]
            burst *= _ramp(m, int(0.015 * sr), int(0.01 * sr))
        else:
            burst = np.diff(white)[pad - 1 :] * np.exp(-np.arange(m) / (0.003 * sr))
        burst /= math.sqrt(float(np.mean(burst**2))) + 1e-12
        speech[noise.start : noise.start + m] += burst * 10.0 ** (noise.level_db / 20.0)

    speech *= 10.0 ** ((_SPEECH_DBFS + p.level_db + gain_db) / 20.0)
    # Room/microphone noise: mildly low-passed, at a level independent of the speech.
    floor = signal.lfilter([1.0], [1.0, -0.7], rng.standard_normal(n))
    floor *= 10.0 ** (rng.uniform(-70.0, -56.0) / 20.0) / (np.std(floor) + 1e-12)
    out = speech + floor
    peak = float(np.max(np.abs(out)))
    if peak > 0.9:  # soft limiting, as a recording chain would clip very loud speech
        out = 0.9 * np.tanh(out / 0.9)
    return out


def _add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``audio`` plus white noise at ``snr_db`` (mean power of the file against the noise's),
    clipped to the 16-bit range."""
    noise = rng.standard_normal(audio.size)
    noise *= math.sqrt(float(np.mean(audio**2)) / 10.0 ** (snr_db / 10.0)) / (np.std(noise) + 1e-12)
    return np.clip(audio + noise, -1.0, 1.0 - 2.0**-15)


def _emotion_counts(total: int, gender: str, confound: float, rotation: int) -> list[int]:
    """Number of utterances per emotion for one speaker."""
    target = EMOTIONS.index("happy" if gender == "female" else "angry")
    n_target = round(total * (0.25 + 0.75 * confound))
    others = [j for j in range(len(EMOTIONS)) if j != target]
    others = others[rotation % 3 :] + others[: rotation % 3]  # spread remainders over speakers
    rest = total - n_target
    counts = [0] * len(EMOTIONS)
    counts[target] = n_target
    for k, j in enumerate(others):
        counts[j] = rest // 3 + (1 if k < rest % 3 else 0)
    return counts


def synthesize_corpus(
    out_dir: pathlib.Path,
    *,
    n_speakers: int = 12,
    n_utterances: int = 8,
    sampling_rate: int = 16000,
    seed: int = 0,
    confound: float = 0.0,
    degrade: str | None = None,
    degrade_snr: float = 5.0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Write a synthetic emotional-speech corpus as 16-bit wav files and return its table.

    Speakers are the first ``n_speakers`` of :data:`SPEAKERS` (8 to 24; genders alternate,
    so even numbers are exactly balanced). Each speaker records
    ``len(EMOTIONS) * n_utterances`` utterances of 1.0-2.5 s, written to
    ``out_dir/<speaker>/<speaker>_<emotion>_<NN>.wav``.

    ``confound`` (0 to 1) injects a gender-emotion confound while keeping the number of
    files per speaker: each speaker's utterances are drawn as a mixture, with weight
    ``confound`` from one target emotion ("happy" for female, "angry" for male speakers)
    and otherwise uniformly from all emotions. So a fraction ``0.25 + 0.75 * confound`` of
    female utterances is happy and of male utterances angry (confound=0.8: 85 %),
    remaining utterances are spread evenly over the other emotions. With confound=0 every
    speaker has exactly ``n_utterances`` per emotion.

    ``degrade`` (an emotion) adds white noise to every utterance of that emotion at
    ``degrade_snr`` dB (speech power over the file against the noise's), a recording-quality
    confound of the kind the bias analysis should find: ``nk explore predict=[snr]``.

    Output is deterministic: each file's random generator is seeded from
    ``(seed, speaker, emotion, utterance)``, so equal arguments give bit-identical files
    and a file name maps to the same audio regardless of ``confound``.

    Returns a DataFrame indexed by absolute file path (index name "file"), sorted by it,
    with columns emotion, speaker, gender, age and duration (seconds).
    """
    from scipy import signal

    if not len(EMOTIONS) * 2 <= n_speakers <= len(SPEAKERS):
        raise ValueError(f"n_speakers must be between 8 and {len(SPEAKERS)}, got {n_speakers}")
    if n_utterances < 1:
        raise ValueError(f"n_utterances must be positive, got {n_utterances}")
    if sampling_rate < 8000:
        raise ValueError(f"sampling_rate must be at least 8000, got {sampling_rate}")
    if not 0.0 <= confound <= 1.0:
        raise ValueError(f"confound must be within [0, 1], got {confound}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if degrade is not None and degrade not in EMOTIONS:
        raise ValueError(f"degrade must be one of {', '.join(EMOTIONS)} or None, got {degrade!r}")

    out_dir = pathlib.Path(out_dir).resolve()
    nyquist = sampling_rate / 2.0
    fricative_sos = tuple(
        signal.butter(
            4,
            [min(lo, 0.4 * nyquist), min(hi, 0.9 * nyquist)],
            btype="bandpass",
            fs=sampling_rate,
            output="sos",
        )
        for lo, hi in _FRICATIVES
    )

    per_speaker = len(EMOTIONS) * n_utterances
    jobs: list[tuple[int, SpeakerSpec, int, int]] = []
    for i, spk in enumerate(SPEAKERS[:n_speakers]):
        for j, count in enumerate(_emotion_counts(per_speaker, spk.gender, confound, i)):
            jobs.extend((i, spk, j, k) for k in range(count))
    width = max(2, len(str(max(k for *_, k in jobs) + 1)))

    rows: list[tuple[str, str, str, str, int, float]] = []
    speaker_state: dict[int, tuple[float, np.ndarray, float]] = {}
    for done, (i, spk, j, k) in enumerate(jobs, start=1):
        if i not in speaker_state:
            # A 4-word seed whose third entry is not an emotion index cannot collide with
            # any file seed (numpy treats trailing zeros of a seed list as equal).
            srng = np.random.default_rng([seed, i, len(EMOTIONS), 1])
            expressivity, offsets = _speaker_deviations(srng)
            speaker_state[i] = (expressivity, offsets, float(srng.normal(0.0, 2.5)))
        expressivity, offsets, gain_db = speaker_state[i]
        rng = np.random.default_rng([seed, i, j, k])
        params = _utterance_params(rng, j, expressivity, offsets)
        audio = _synthesize_utterance(rng, spk, params, gain_db, sampling_rate, fricative_sos)
        if degrade == EMOTIONS[j]:
            audio = _add_noise(audio, degrade_snr, np.random.default_rng([seed, i, j, k, 7]))
        path = out_dir / spk.speaker / f"{spk.speaker}_{EMOTIONS[j]}_{k + 1:0{width}d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, audio, sampling_rate, subtype="PCM_16")
        rows.append((str(path), EMOTIONS[j], spk.speaker, spk.gender, spk.age, audio.size / sampling_rate))
        if progress is not None:
            progress(done, len(jobs))

    table = pd.DataFrame(rows, columns=["file", "emotion", "speaker", "gender", "age", "duration"])
    table["age"] = table["age"].astype("int64")
    table["duration"] = table["duration"].astype("float64")
    return table.set_index("file").sort_index()
