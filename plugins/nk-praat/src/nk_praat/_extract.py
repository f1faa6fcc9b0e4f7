"""The Praat analyses behind :class:`nk_praat.Praat` (imports parselmouth: import lazily).

One extraction makes each Praat object once: a Sound; a Pitch, reused for the glottal
PointProcess (jitter, shimmer), for HNR (its periodicity strengths), for choosing voiced
formant frames and for voicing syllable nuclei; a PowerCepstrogram (CPPS); a Formant; and two
Intensity contours (a smooth one for the intensity statistics and syllable nuclei, a sharp one
for pauses). Statistics are computed with numpy on whole contours, never with per-frame calls
into Praat. The README defines every feature."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import parselmouth
from parselmouth.praat import call

if TYPE_CHECKING:
    from nk_praat import Praat

NAN = float("nan")
REFERENCE_HZ = 27.5  # semitone reference (A0), as in eGeMAPS
PRAAT_SILENCE_DB = -300.0  # Praat's Intensity value for frames of digital silence
# Praat's defaults for the period-based measures (Voice report): shortest and longest period
# (s), largest ratio of consecutive periods, largest ratio of consecutive amplitudes.
SHORTEST_PERIOD = 0.0001
LONGEST_PERIOD = 0.02
MAX_PERIOD_FACTOR = 1.3
MAX_AMPLITUDE_FACTOR = 1.6
# Minimum pitch of the intensity contour for pauses: Praat's window is 6.4 / this = 25 ms long.
PAUSE_MIN_PITCH = 256.0
CEPSTRUM_RATE = 10000  # Praat's default cepstrogram band is 0-5000 Hz


def _stats(values: np.ndarray) -> list[float]:
    """mean, sd, median, min, max, 5th and 95th percentile; NaN with fewer than 2 values."""
    if values.size < 2:
        return [NAN] * 7
    p5, median, p95 = np.percentile(values, [5, 50, 95])
    return [float(values.mean()), float(values.std()), float(median), float(values.min()),
            float(values.max()), float(p5), float(p95)]


def _frame_voicing(times: np.ndarray, pitch: Any, voiced: np.ndarray) -> np.ndarray:
    """Whether the pitch frame nearest to each time is voiced (False outside the pitch track)."""
    idx = np.rint((times - pitch.x1) / pitch.dx).astype(np.int64)
    inside = (idx >= 0) & (idx < voiced.size)
    return inside & voiced[np.clip(idx, 0, voiced.size - 1)]


def _pitch_features(f0: np.ndarray) -> list[float]:
    """F0 statistics in Hz and semitones re 27.5 Hz, robust range, voiced fraction."""
    hz = f0[f0 > 0]
    st = 12.0 * np.log2(hz / REFERENCE_HZ)
    st_stats = _stats(st)
    return [*_stats(hz), *st_stats, st_stats[6] - st_stats[5], hz.size / max(f0.size, 1)]


def _hnr_db(strength: np.ndarray) -> np.ndarray:
    """Harmonics-to-noise ratio (dB) of frames with periodicity strength r: 10·log10(r / (1 - r)).

    r is the normalised autocorrelation (or cross-correlation) peak at the period, the share of
    periodic energy in the frame (Boersma 1993); capped at 150 dB as Praat's Harmonicity is.
    """
    r = np.clip(strength, 1e-15, 1.0 - 1e-15)
    return 10.0 * np.log10(r / (1.0 - r))


def prepare() -> None:
    """Import what extraction needs beyond parselmouth: scipy.signal takes about 0.5 s."""
    import scipy.signal  # noqa: F401


def _cpps(sound: Any, values: np.ndarray, sampling_rate: int, floor: float, ceiling: float, step: float) -> float:
    """Praat's CPPS of a PowerCepstrogram (0-5000 Hz), with Praat's defaults but the frame step.

    The cepstrogram analyses 0-5000 Hz, so Praat would resample to 10 kHz first; a polyphase
    resampler does that several times faster with the same CPPS (r = 1.000 on the demo corpus).
    ``sound`` is the Sound of ``values``: analysed as it is at 10 kHz or less.
    """
    from fractions import Fraction

    ratio = Fraction(CEPSTRUM_RATE, sampling_rate)
    if ratio < 1:
        from scipy.signal import resample_poly

        sound = parselmouth.Sound(resample_poly(values, ratio.numerator, ratio.denominator),
                                  sampling_frequency=float(CEPSTRUM_RATE))
    cepstrogram = call(sound, "To PowerCepstrogram", floor, step, CEPSTRUM_RATE / 2.0, 50.0)
    # Subtract tilt before smoothing; average over 20 ms and 0.5 ms of quefrency; peak searched
    # in the configured pitch range, parabolic interpolation; robust straight tilt line fitted
    # from 1 ms to the end.
    return float(call(cepstrogram, "Get CPPS", True, 0.02, 0.0005, floor, ceiling, 0.05, "Parabolic",
                      0.001, 0.0, "Straight", "Robust"))


def _perturbation(sound: Any, point_process: Any, longest_period: float) -> list[float]:
    """Jitter (local, rap, ppq5) and shimmer (local, apq3, apq5, apq11) from the glottal pulses."""
    args = (0.0, 0.0, SHORTEST_PERIOD, longest_period, MAX_PERIOD_FACTOR)
    jitter = [call(point_process, f"Get jitter ({kind})", *args) for kind in ("local", "rap", "ppq5")]
    shimmer = [call([sound, point_process], f"Get shimmer ({kind})", *args, MAX_AMPLITUDE_FACTOR)
               for kind in ("local", "apq3", "apq5", "apq11")]
    return [float(v) for v in (*jitter, *shimmer)]  # Praat's "undefined" arrives as NaN


def _formant_features(formant: Any, pitch: Any, voiced: np.ndarray) -> list[float]:
    """Mean and sd of F1-F4 over voiced frames, formant dispersion (F4 - F1) / 3."""
    frame_voiced = _frame_voicing(np.asarray(formant.xs()), pitch, voiced)
    out: list[float] = []
    means: list[float] = []
    for i in range(1, 5):
        values = call(formant, "To Matrix", i).values[0]  # Hz; 0 where the formant is undefined
        values = values[frame_voiced & (values > 0)]
        mean, sd = (float(values.mean()), float(values.std())) if values.size >= 2 else (NAN, NAN)
        out += [mean, sd]
        means.append(mean)
    return [*out, (means[3] - means[0]) / 3.0]


def _sounding(intensity_db: np.ndarray, silence_threshold_db: float) -> np.ndarray:
    """Frames at most ``-silence_threshold_db`` below the 99th percentile (a click-robust maximum)."""
    audible = intensity_db > PRAAT_SILENCE_DB  # Praat's floor marks digitally silent frames
    if not audible.any():
        return audible
    threshold = np.percentile(intensity_db[audible], 99) + silence_threshold_db
    return audible & (intensity_db >= threshold)


def _speech_features(
    smooth: Any, sharp: Any, duration: float, pitch: Any, voiced: np.ndarray, praat: Praat
) -> list[float]:
    """Speech rate, articulation rate and pauses from two intensity contours (see the README).

    Pauses come from ``sharp`` (a 25 ms window, so that a silence is not shortened by much):
    the silent stretches of at least ``min_pause`` between the first and the last sounding
    frame; leading and trailing silence is not a pause. Syllable nuclei come from ``smooth``
    (the pitch-floor window, free of pitch ripple): local maxima in sounding, voiced frames;
    two successive maxima are separate nuclei only when the intensity between them dips at
    least ``min_dip_db`` below the lower one, otherwise the louder one stands for both.
    """
    db = np.asarray(sharp.values).reshape(-1)
    times, dt = np.asarray(sharp.xs()), float(sharp.dx)
    sounding = _sounding(db, praat.silence_threshold_db)
    if not sounding.any():
        return [NAN] * 5
    first, last = np.flatnonzero(sounding)[[0, -1]]
    # Runs of silent frames inside the speaking span, from the edges of the silence mask.
    edges = np.diff(np.concatenate(([0], (~sounding[first : last + 1]).astype(np.int8), [0])))
    run_frames = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    pauses = run_frames[run_frames * dt >= praat.min_pause - 1e-9] * dt
    # The span reaches the signal's edge when speech does (frames sit half a window inside).
    start = 0.0 if first == 0 else times[first] - dt / 2
    end = duration if last == sounding.size - 1 else times[last] + dt / 2
    span = end - start
    phonation = span - pauses.sum()

    x = np.asarray(smooth.values).reshape(-1)
    peak = np.zeros(x.size, dtype=bool)
    peak[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    loud = _sounding(x, praat.silence_threshold_db)
    candidates = np.flatnonzero(peak & loud & _frame_voicing(np.asarray(smooth.xs()), pitch, voiced))
    nuclei: list[int] = []
    for p in candidates:
        if nuclei:
            q = nuclei[-1]
            if x[q : p + 1].min() > min(x[q], x[p]) - praat.min_dip_db:  # no real dip: one syllable
                if x[p] > x[q]:
                    nuclei[-1] = p
                continue
        nuclei.append(p)
    n = len(nuclei)
    return [
        n / duration,
        n / phonation if phonation > 0 else NAN,
        float(pauses.size),
        float(pauses.mean()) if pauses.size else 0.0,  # no pause: 0 s of pausing, by definition
        float(pauses.sum() / span),
    ]


def extract(praat: Praat, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
    """The feature vector of :data:`nk_praat.FEATURE_NAMES` for one mono signal."""
    from nk_praat import FEATURE_NAMES, HnrMethod, PitchMethod

    # Praat.__init__ has checked pitch_floor < pitch_ceiling and converted the methods to enums.
    floor, ceiling, step = float(praat.pitch_floor), float(praat.pitch_ceiling), float(praat.time_step)
    values = np.asarray(signal, dtype=np.float64).reshape(-1)
    duration = values.size / sampling_rate
    # The longest window (intensity: 6.4 periods of the pitch floor) must fit: shorter input has
    # no defined Praat features at all, and neither has digital silence (a recording of nothing).
    if duration < 6.4 / floor or not np.isfinite(values).all() or not np.any(values):
        return np.full(len(FEATURE_NAMES), np.nan, dtype=np.float32)

    sound = parselmouth.Sound(values, sampling_frequency=float(sampling_rate))
    if praat.pitch_method is PitchMethod.cc:
        pitch = sound.to_pitch_cc(step, floor, pitch_ceiling=ceiling)
    else:
        pitch = sound.to_pitch_ac(step, floor, pitch_ceiling=ceiling)
    selected = pitch.selected_array
    f0 = np.asarray(selected["frequency"])
    voiced = f0 > 0
    features = _pitch_features(f0)

    longest_period = max(LONGEST_PERIOD, 1.0 / floor)
    if voiced.any():
        point_process = call([sound, pitch], "To PointProcess (cc)")
        features += _perturbation(sound, point_process, longest_period)
    else:
        features += [NAN] * 7

    if praat.hnr_method is HnrMethod.cc:
        hnr = np.asarray(sound.to_harmonicity_cc(step, floor, 0.1, 1.0).values).reshape(-1)
        hnr = hnr[hnr > -200.0]  # -200 dB marks silent frames
    else:
        hnr = _hnr_db(np.asarray(selected["strength"])[voiced])
    features.append(float(hnr.mean()) if hnr.size else NAN)
    features.append(_cpps(sound, values, sampling_rate, floor, ceiling, float(praat.cpps_time_step)))

    max_formant = float(praat.max_formant)
    # Burg resamples to twice the formant ceiling itself; resampling first with a shallower sinc
    # (depth 10) gives the same formants (within 0.5 Hz on the demo corpus) in half the time.
    formant_sound = sound.resample(2.0 * max_formant, 10) if 2.0 * max_formant < sampling_rate else sound
    formant = formant_sound.to_formant_burg(step, praat.number_of_formants, max_formant, 0.025, 50.0)
    features += _formant_features(formant, pitch, voiced)

    intensity = sound.to_intensity(floor, step)
    contour = np.asarray(intensity.values).reshape(-1)
    audible = contour[contour > PRAAT_SILENCE_DB]
    if audible.size >= 2:
        features += [float(audible.mean()), float(audible.std()), float(audible.min()), float(audible.max())]
    else:
        features += [NAN] * 4
    envelope = sound.to_intensity(PAUSE_MIN_PITCH, step)
    features += _speech_features(intensity, envelope, duration, pitch, voiced, praat)
    return np.asarray(features, dtype=np.float32)
