"""Class-like sound generators for the 10 DESED classes and for backgrounds.

Every generator has the signature ``generator(rng, n_samples, sample_rate) -> (n_samples,) float64``
and draws *all* of its parameters (pitch, rate, timbre, noise colour, ...) from ``rng``
(:class:`numpy.random.Generator`), so two events of one class never share a template: a model
trained on them has to learn the class structure (harmonic motor whine under load, formant-shaped
syllables, decaying inharmonic partials, ...), not one waveform. Generators are vectorised numpy
and scipy filters: one second of any class takes a few milliseconds.

The output level is arbitrary (the mixer sets it from the event-to-background ratio). Sound is
present from the first to the last sample of the span (bursty classes put a burst at the start and
one that ends at the span's end), so labels line up with the audio.

Speech is formant-synthesised (no text-to-speech engine is used, so output does not depend on what
is installed on the machine).

:data:`FOREGROUND_GENERATORS` maps each DESED class to its generator; :func:`background` makes the
clip backgrounds. Their building blocks are in :mod:`.dsp`; :mod:`.sources` wraps them as a source
bank (:class:`jointsed.data.synth.sources.SyntheticSources`).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth.dsp import (
    attack_decay,
    bandpass,
    burst_schedule,
    colored_noise,
    hann_edges,
    harmonic_voice,
    highpass,
    impulse_train,
    loguniform,
    lowpass,
    motor_tone,
    resonator,
    rms,
    smooth_curve,
    unit_rms,
)

Generator = Callable[[np.random.Generator, int, int], np.ndarray]


# ----------------------------------------------------------------------------------------------
# Foreground classes
# ----------------------------------------------------------------------------------------------
_PLATE_RATIOS = np.array([1.0, 2.76, 5.40, 8.93, 13.34])
_BELL_RATIOS = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.5, 2.66, 3.0, 4.2])


def alarm_bell(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Alarm bell: repeated strikes of decaying inharmonic partials (electric bell, ringer, chime)."""
    style = rng.choice(3, p=[0.45, 0.35, 0.2])
    rate, tau0, f_base = [
        (rng.uniform(12, 30), loguniform(rng, 0.03, 0.15), loguniform(rng, 700, 2500)),
        (rng.uniform(4, 12), loguniform(rng, 0.1, 0.4), loguniform(rng, 500, 2000)),
        (rng.uniform(1, 4), loguniform(rng, 0.4, 1.5), loguniform(rng, 300, 1500)),
    ][style]
    pool = _PLATE_RATIOS if rng.random() < 0.5 else _BELL_RATIOS
    n_partials = int(rng.integers(3, min(7, len(pool)) + 1))
    ratios = np.sort(rng.choice(pool, n_partials, replace=False)) * rng.uniform(0.97, 1.03, n_partials)
    freqs = f_base * ratios / ratios[0]
    keep = freqs < 0.45 * sr
    if keep.any():
        freqs, ratios = freqs[keep], ratios[keep] / ratios[keep][0]
    else:  # very low sample rate
        freqs, ratios = np.array([0.3 * sr]), np.array([1.0])
    amps = loguniform(rng, 0.2, 1.0, freqs.size) * ratios ** -0.5
    taus = tau0 * ratios ** -0.6

    duration = n / sr
    intervals = (1.0 / rate) * rng.uniform(0.85, 1.15, int(duration * rate) + 2)
    times = np.concatenate([[0.0], np.cumsum(intervals)])
    times = times[times < duration]
    if style == 1 and duration > 2.0:  # ringer: bursts of strikes with pauses, last burst reaches the end
        on, off = rng.uniform(0.4, 1.5), rng.uniform(0.2, 0.8)
        phase = times % (on + off)
        times = times[(phase < on) | (times > duration - 0.3)]
    if times[-1] < duration - 2.0 / rate:
        times = np.append(times, duration - 1.0 / rate)
    strike = impulse_train(n, times * sr, rng.uniform(0.7, 1.0, times.size))
    out = np.zeros(n)
    for f, a, tau in zip(freqs, amps, taus):
        out += a * resonator(strike, sr, f, tau)
    clapper = highpass(np.convolve(strike, rng.standard_normal(max(4, sr // 500)))[:n], sr, 3000)
    return unit_rms(out) + rng.uniform(0.0, 0.15) * unit_rms(clapper)


def blender(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Blender: motor harmonics whose pitch drops under load, chopping broadband noise, speed steps."""
    f_nominal = loguniform(rng, 90, 300)
    load = smooth_curve(rng, n, sr, rng.uniform(0.5, 4.0)) ** rng.uniform(1.0, 3.0)
    speed = np.ones(n)
    if rng.random() < 0.4:  # the user switches speed
        t_switch = int(rng.uniform(0.2, 0.8) * n)
        speed[t_switch:] = rng.choice([0.75, 1.3])
    if rng.random() < 0.3:  # spin-up at the start
        ramp = min(n, int(rng.uniform(0.3, 1.0) * sr))
        speed[:ramp] *= np.linspace(rng.uniform(0.3, 0.6), 1.0, ramp)
    f0 = f_nominal * speed * (1.0 - rng.uniform(0.15, 0.4) * load)
    f0 *= 1.0 + 0.01 * smooth_curve(rng, n, sr, 30.0, -1, 1)
    tone = motor_tone(rng, f0, sr, 40, rng.uniform(0.6, 1.2), 5000)
    noise = bandpass(colored_noise(rng, n, rng.uniform(-0.3, 0.6)), sr,
                     loguniform(rng, 300, 1500), loguniform(rng, 4000, 8000))
    blades = int(rng.integers(2, 5))
    rot_phase = 2 * np.pi * np.cumsum(f0) / sr
    noise *= (1.0 + rng.uniform(0.3, 0.8) * np.sin(blades * rot_phase)) * (0.5 + load)
    return unit_rms(tone) + loguniform(rng, 0.2, 1.5) * unit_rms(noise)


def vacuum_cleaner(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Vacuum cleaner: dominant airflow noise (pink to brown) and a fan whine that rises when blocked."""
    blocked = smooth_curve(rng, n, sr, rng.uniform(0.2, 1.5)) ** 2
    f_fan = loguniform(rng, 250, 900) * (1.0 + rng.uniform(0.05, 0.2) * blocked)
    if rng.random() < 0.25:  # motor start-up
        ramp = min(n, int(rng.uniform(0.5, 1.5) * sr))
        f_fan[:ramp] *= np.linspace(0.4, 1.0, ramp)
    fan = motor_tone(rng, f_fan, sr, int(rng.integers(2, 7)), rng.uniform(1.0, 2.0), 6000)
    motor = motor_tone(rng, f_fan / rng.uniform(2.5, 4.0), sr, 8, 1.0, 2000)
    noise = lowpass(highpass(colored_noise(rng, n, rng.uniform(0.6, 1.6)), sr, 80),
                    sr, loguniform(rng, 1500, 6000))
    noise = unit_rms(noise) * (1.0 - 0.5 * blocked)
    out = unit_rms(noise) + loguniform(rng, 0.1, 0.6) * unit_rms(fan) + 0.1 * unit_rms(motor)
    if rng.random() < 0.4:  # whistling nozzle
        out += loguniform(rng, 0.05, 0.3) * unit_rms(resonator(rng.standard_normal(n), sr,
                                                               loguniform(rng, 2000, 5000), 0.01))
    return out


def electric_shaver_toothbrush(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Electric shaver / toothbrush: bright amplitude-modulated buzz with a body resonance."""
    toothbrush = rng.random() < 0.5
    f0 = loguniform(rng, 150, 300) if toothbrush else loguniform(rng, 70, 160)
    f0 = f0 * (1.0 + 0.02 * smooth_curve(rng, n, sr, rng.uniform(1, 5), -1, 1))
    phase = np.cumsum(f0) / sr
    frac = phase - np.floor(phase)
    duty = rng.uniform(0.1, 0.5)
    buzz = np.where(frac < duty, 1.0, 0.0) - duty if rng.random() < 0.5 else 2 * frac - 1
    buzz = lowpass(buzz, sr, 0.4 * sr, order=4)
    body = resonator(buzz, sr, loguniform(rng, 1000, 4000), rng.uniform(0.002, 0.01))
    out = unit_rms(buzz) + rng.uniform(0.3, 1.5) * unit_rms(body)
    t = np.arange(n) / sr
    if toothbrush:  # brushing strokes
        stroke = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t + rng.uniform(0, 2 * np.pi))
        am = 1.0 - rng.uniform(0.4, 0.9) * stroke
        out += rng.uniform(0.1, 0.5) * unit_rms(highpass(rng.standard_normal(n), sr, 3000)) * stroke
    else:  # irregular skin contact
        am = 1.0 - rng.uniform(0.1, 0.5) * smooth_curve(rng, n, sr, rng.uniform(1, 4))
    return out * am


def dog(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Dog: noisy harmonic bark bursts (arched pitch, formants); sometimes a continuous growl."""
    size = rng.uniform(0.7, 1.4)  # big dogs: low pitch and formants
    formants = np.array([loguniform(rng, 400, 900), loguniform(rng, 1100, 2200),
                         rng.uniform(2600, 3500)]) / size
    bandwidths = np.array([rng.uniform(100, 250), rng.uniform(150, 300), 300.0])
    noise_mix = rng.uniform(0.15, 0.5)
    f0 = np.empty(n)
    env = np.zeros(n)
    if rng.random() < 0.15 and n > sr:  # growl
        f0[:] = loguniform(rng, 70, 160) * (1 + 0.05 * smooth_curve(rng, n, sr, 3, -1, 1))
        rough = 1.0 - 0.7 * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(20, 40) * np.arange(n) / sr))
        env[:] = rough * hann_edges(n, sr, 0.05, 0.05)
        noise_mix = rng.uniform(0.5, 0.8)
    else:
        f_bark = loguniform(rng, 250, 800) / size
        bursts = burst_schedule(rng, n, sr, (0.08, 0.3), (0.08, 0.5))
        f0[:] = f_bark
        for start, stop in bursts:
            length = stop - start
            u = np.arange(length) / max(length, 1)
            f0[start:stop] = f_bark * rng.uniform(0.85, 1.15) * (1 + 0.3 * np.sin(np.pi * u)) * (1 - 0.25 * u)
            env[start:stop] = attack_decay(length, sr, rng.uniform(0.004, 0.012), rng.uniform(1.0, 2.5))
            env[start:stop] *= rng.uniform(0.6, 1.0)
    voice = harmonic_voice(rng, f0, sr, np.repeat(formants[:, None], n, axis=1), bandwidths,
                           slope=rng.uniform(0.6, 1.1), max_freq=5000)
    noise = resonator(rng.standard_normal(n), sr, formants[0], 0.003) + resonator(
        rng.standard_normal(n), sr, formants[1], 0.002)  # formant-coloured breath noise
    return ((1 - noise_mix) * unit_rms(voice) + noise_mix * unit_rms(noise)) * env


def cat(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Cat: meows with rising-falling pitch glides and opening-closing formants; sometimes a purr."""
    size = rng.uniform(0.85, 1.25)
    if rng.random() < 0.12 and n > sr:  # purr: low pulsed noise
        t = np.arange(n) / sr
        pulses = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(22, 30) * t)) ** 4
        purr = lowpass(rng.standard_normal(n), sr, loguniform(rng, 300, 800)) * pulses
        return unit_rms(purr) * hann_edges(n, sr, 0.05, 0.05)
    # gaps between meows are silent (env 0); their pitch/formant values only need to be sane
    f0 = np.full(n, 500.0)
    env = np.zeros(n)
    f1 = np.full(n, 600.0 / size)
    f2 = np.full(n, 1700.0 / size)
    for start, stop in burst_schedule(rng, n, sr, (0.35, 1.3), (0.1, 0.6)):
        length = stop - start
        u = np.arange(length) / max(length, 1)
        f_start = loguniform(rng, 350, 700)
        peak = rng.uniform(0.25, 0.6)
        knots_u = [0.0, peak, 1.0]
        f0[start:stop] = np.interp(u, knots_u, [f_start, f_start * rng.uniform(1.2, 1.8),
                                                f_start * rng.uniform(0.6, 1.0)])
        f0[start:stop] *= 1 + 0.02 * np.sin(2 * np.pi * rng.uniform(5, 8) * u * length / sr)
        f1[start:stop] = np.interp(u, knots_u, [600, rng.uniform(900, 1200), 500]) / size
        f2[start:stop] = np.interp(u, knots_u, [1700, rng.uniform(1400, 1700), rng.uniform(800, 1000)]) / size
        env[start:stop] = hann_edges(length, sr, rng.uniform(0.02, 0.06), rng.uniform(0.06, 0.15))
        env[start:stop] *= rng.uniform(0.6, 1.0)
    formants = np.stack([f1, f2, np.full(n, 3000.0 / size)])
    voice = harmonic_voice(rng, f0, sr, formants, np.array([150.0, 200.0, 300.0]),
                           slope=rng.uniform(0.4, 0.9), max_freq=6000)
    breath = bandpass(rng.standard_normal(n), sr, 1500, 6000)
    return (unit_rms(voice) + rng.uniform(0.02, 0.1) * unit_rms(breath)) * env


def dishes(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Dishes: short impacts exciting the high resonant modes of 1-3 objects, plus cutlery clicks."""
    duration = n / sr
    rate = loguniform(rng, 2, 12)
    times = np.concatenate([[0.0], np.cumsum(rng.exponential(1 / rate, int(duration * rate * 3) + 2))])
    times = times[times < duration]
    if times[-1] < duration - 0.15:  # an impact near the end so the sound reaches the label's offset
        times = np.append(times, duration - rng.uniform(0.02, 0.08))
    n_objects = int(rng.integers(1, 4))
    owner = rng.integers(0, n_objects, times.size)
    amps = loguniform(rng, 0.2, 1.0, times.size)
    kernel = rng.standard_normal(max(2, int(rng.uniform(0.0005, 0.003) * sr)))
    kernel *= np.exp(-np.arange(kernel.size) / (kernel.size / 3))
    out = np.zeros(n)
    for obj in range(n_objects):
        mask = owner == obj
        if not mask.any():
            continue
        excitation = np.convolve(impulse_train(n, times[mask] * sr, amps[mask]), kernel)[:n]
        for _ in range(int(rng.integers(2, 7))):
            freq = min(loguniform(rng, 1200, 7000), 0.45 * sr)
            out += loguniform(rng, 0.3, 1.0) * resonator(excitation, sr, freq, loguniform(rng, 0.02, 0.25))
    clicks = highpass(np.convolve(impulse_train(n, times * sr, amps), rng.standard_normal(sr // 100))[:n], sr, 4000)
    return unit_rms(out) + rng.uniform(0.05, 0.4) * unit_rms(clicks)


def frying(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Frying: dense heavy-tailed crackle impulses and a few pops over a high-frequency hiss."""
    hiss = highpass(colored_noise(rng, n, rng.uniform(-0.8, 0.2)), sr, loguniform(rng, 800, 3000))
    hiss *= smooth_curve(rng, n, sr, rng.uniform(0.5, 3), 0.7, 1.0)
    rate = loguniform(rng, 30, 400)
    count = max(1, rng.poisson(rate * n / sr))
    crackle_train = impulse_train(n, rng.uniform(0, n, count), np.minimum(rng.pareto(1.5, count) + 1, 30))
    # each crackle: a broadband burst of decaying noise (0.3-2 ms), lightly coloured by one resonance
    kernel = rng.standard_normal(max(4, int(0.004 * sr)))
    kernel *= np.exp(-np.arange(kernel.size) / (rng.uniform(0.0003, 0.002) * sr))
    crackle = np.convolve(crackle_train, kernel)[:n]
    crackle += 0.3 * unit_rms(resonator(crackle_train, sr, loguniform(rng, 2000, 7000), 0.0005)) * rms(crackle)
    pops_count = rng.poisson(rng.uniform(1, 10) * n / sr)
    pops = resonator(impulse_train(n, rng.uniform(0, n, pops_count), loguniform(rng, 0.5, 1, pops_count)),
                     sr, loguniform(rng, 300, 1500), rng.uniform(0.005, 0.02))
    out = unit_rms(hiss) + loguniform(rng, 0.5, 3.0) * unit_rms(highpass(crackle, sr, 1000))
    return out + (rng.uniform(0.1, 0.5) * unit_rms(pops) if pops_count else 0.0)


def running_water(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Running water: streams of rising-chirp bubbles (Minnaert-like) over fluctuating filtered noise."""
    noise = bandpass(colored_noise(rng, n, rng.uniform(0.0, 1.2)), sr,
                     loguniform(rng, 150, 600), loguniform(rng, 2000, 7000))
    noise *= smooth_curve(rng, n, sr, rng.uniform(5, 20), 0.5, 1.0)
    rate = loguniform(rng, 40, 600)
    count = int(min(4000, max(1, rng.poisson(rate * n / sr))))
    f_low, f_high = loguniform(rng, 200, 800), loguniform(rng, 1500, 4000)
    f0 = np.minimum(loguniform(rng, f_low, f_high, count), 0.4 * sr)
    tau = rng.uniform(4, 15, count) / f0  # a bubble rings for 4-15 cycles
    rise = rng.uniform(0.05, 0.3, count)
    length = int(min(4 * tau.max(), 0.03) * sr) + 1
    t = np.arange(length) / sr
    bubbles = (loguniform(rng, 0.2, 1.0, count)[:, None] * np.exp(-t[None, :] / tau[:, None])
               * np.sin(2 * np.pi * f0[:, None] * (t[None, :] + rise[:, None] * t[None, :] ** 2 / (2 * tau[:, None]))))
    starts = rng.integers(0, n, count)
    idx = starts[:, None] + np.arange(length)[None, :]
    inside = idx < n
    stream = np.bincount(idx[inside], weights=bubbles[inside], minlength=n)
    return unit_rms(noise) + loguniform(rng, 0.5, 4.0) * unit_rms(stream)


# Vowel formants F1-F3 (Hz, adult male; Peterson & Barney 1952 averages).
_VOWELS = np.array([
    [730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410],
    [300, 870, 2240], [660, 1720, 2410], [490, 1350, 1690], [520, 1190, 2390],
], dtype=np.float64)


def speech(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Speech: formant-synthesised syllables (vowels, fricatives, plosives, nasals) with prosody.

    A speaker (pitch range, vocal-tract length) is drawn per event; syllables at 3-6.5 per second
    with word pauses, pitch declination and random accents, coarticulated formant transitions.
    """
    female = rng.random() < 0.5
    f0_base = loguniform(rng, 165, 260) if female else loguniform(rng, 85, 140)
    tract = rng.uniform(1.05, 1.2) if female else rng.uniform(0.9, 1.0)
    syllable_rate = rng.uniform(3.0, 6.5)
    duration = n / sr

    # syllable plan: (start_s, consonant_s, vowel_s, consonant type, vowel index, accent)
    t_knots, formant_knots, voice_knots, f0_knots = [], [], [], []
    fric_s, fric_sh, fric_f, burst = (np.zeros(n) for _ in range(4))
    t = 0.0
    while t < duration - 0.02 or not t_knots:
        syl = (1.0 / syllable_rate) * rng.uniform(0.6, 1.4)
        if duration - (t + syl) < 0.5 / syllable_rate:  # last syllable reaches the end
            syl = duration - t
        cons_type = int(rng.choice(5, p=[0.3, 0.2, 0.15, 0.2, 0.15]))  # none, s, sh/f, plosive, nasal
        cons = 0.0 if cons_type == 0 else min(syl * rng.uniform(0.15, 0.4), 0.12)
        vowel = _VOWELS[rng.integers(len(_VOWELS))] * tract * rng.uniform(0.95, 1.05, 3)
        accent = rng.uniform(-0.05, 0.2)
        a, b = int(t * sr), min(n, int((t + cons) * sr))
        if cons_type in (1, 2) and b > a:
            ramp = hann_edges(b - a, sr, 0.01, 0.01)
            (fric_s if cons_type == 1 else (fric_sh if rng.random() < 0.6 else fric_f))[a:b] += ramp
        if cons_type == 3 and b > a:
            burst[max(a, b - int(0.015 * sr)):b] = 1.0
        voiced_consonant = cons_type == 4
        nasal = np.array([250.0, 1000.0, 2200.0]) * tract
        # knots: consonant start, vowel start (+20 ms transition), vowel end
        t_knots += [t, t + cons + 0.02, t + syl - 0.01]
        formant_knots += [nasal if voiced_consonant else vowel, vowel, vowel]
        v_amp = rng.uniform(0.6, 1.0)
        voice_knots += [0.4 * v_amp if voiced_consonant else 0.0, v_amp, v_amp if t + syl >= duration - 1e-9 else 0.0]
        f0_knots += [f0_base * (1 + accent) * (1.1 - 0.2 * t / duration)] * 3
        t += syl
        if t < duration - 0.3 and rng.random() < 0.25:  # word boundary pause
            pause = rng.uniform(0.05, 0.25)
            t_knots.append(t + pause / 2)
            formant_knots.append(vowel)
            voice_knots.append(0.0)
            f0_knots.append(f0_knots[-1])
            t += pause
    t_knots = np.maximum.accumulate(np.asarray(t_knots))
    grid = np.arange(n) / sr
    formant_knots = np.asarray(formant_knots)
    formants = np.stack([np.interp(grid, t_knots, formant_knots[:, i]) for i in range(3)]
                        + [np.full(n, 3500.0 * tract)])
    voicing = np.interp(grid, t_knots, np.asarray(voice_knots))
    f0 = np.interp(grid, t_knots, np.asarray(f0_knots))
    if rng.random() < 0.2:  # question: final rise
        f0 *= 1.0 + 0.3 * np.clip((grid - duration + 0.4) / 0.4, 0, 1)
    f0 *= 1 + 0.01 * smooth_curve(rng, n, sr, 20, -1, 1)  # jitter
    voice = harmonic_voice(rng, f0, sr, formants, np.array([80.0, 100.0, 150.0, 200.0]),
                           slope=rng.uniform(0.8, 1.2), max_freq=5000)
    white = rng.standard_normal(n)
    noise = (unit_rms(highpass(white, sr, 4500, 4)) * fric_s
             + unit_rms(bandpass(white, sr, 2000, 4500)) * fric_sh
             + 0.5 * unit_rms(bandpass(white, sr, 1000, 7000)) * fric_f
             + unit_rms(highpass(white, sr, 500)) * burst)
    return unit_rms(voice) * voicing + rng.uniform(0.15, 0.4) * noise


FOREGROUND_GENERATORS: dict[str, Generator] = {
    "Alarm_bell_ringing": alarm_bell,
    "Blender": blender,
    "Cat": cat,
    "Dishes": dishes,
    "Dog": dog,
    "Electric_shaver_toothbrush": electric_shaver_toothbrush,
    "Frying": frying,
    "Running_water": running_water,
    "Speech": speech,
    "Vacuum_cleaner": vacuum_cleaner,
}
assert tuple(sorted(FOREGROUND_GENERATORS)) == tuple(sorted(DESED_CLASSES))


# ----------------------------------------------------------------------------------------------
# Backgrounds
# ----------------------------------------------------------------------------------------------
def background(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Background: room tone plus a random subset of mains hum, coloured noise, ventilation, traffic."""
    parts = [unit_rms(lowpass(colored_noise(rng, n, rng.uniform(1.0, 2.0)), sr, loguniform(rng, 300, 3000)))]
    t = np.arange(n) / sr
    if rng.random() < 0.5:  # mains hum
        mains = 50.0 if rng.random() < 0.5 else 60.0
        k = np.arange(1, int(rng.integers(3, 11)) + 1)
        k = k[k * mains < 0.45 * sr]
        amps = loguniform(rng, 0.05, 1.0, k.size) / k
        offsets = rng.uniform(0, 2 * np.pi, (k.size, 1))
        # the hum repeats every sr / gcd(sr, mains) samples: compute that stretch once and tile it
        span = min(n, sr // math.gcd(sr, int(mains)))
        hum = amps @ np.sin(2 * np.pi * mains * k[:, None] * t[None, :span] + offsets)
        hum = np.tile(hum, -(-n // span))[:n]
        parts.append(loguniform(rng, 0.05, 0.5) * unit_rms(hum))
    if rng.random() < 0.5:  # broadband coloured noise
        parts.append(loguniform(rng, 0.1, 0.7) * colored_noise(rng, n, rng.uniform(-0.5, 1.0)))
    if rng.random() < 0.3:  # ventilation
        vent = bandpass(rng.standard_normal(n), sr, 100, loguniform(rng, 400, 1200))
        vent *= smooth_curve(rng, n, sr, rng.uniform(0.2, 1.0), 0.6, 1.0)
        parts.append(loguniform(rng, 0.2, 0.8) * unit_rms(vent))
    if rng.random() < 0.2:  # distant traffic swells
        traffic = lowpass(colored_noise(rng, n, 2.0), sr, 200)
        traffic *= smooth_curve(rng, n, sr, rng.uniform(0.05, 0.3), 0.2, 1.0)
        parts.append(loguniform(rng, 0.3, 1.0) * unit_rms(traffic))
    out = np.sum(parts, axis=0) * smooth_curve(rng, n, sr, rng.uniform(0.1, 0.5), 0.8, 1.0)
    return out
