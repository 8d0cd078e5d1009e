"""Distractors: sounds of no DESED class, added unlabelled to the recorded splits.

Real DESED clips (Audioset) hold many sounds that are none of the ten classes (doors, typing,
steps, traffic, music, objects handled, clapping, ...); they are never labelled, so a detector
has to learn to ignore them. Synthetic strong clips have none, which is part of the gap between
the two.

Generators follow :mod:`.generators` (``generator(rng, n_samples, sample_rate) -> (n_samples,)``,
every parameter drawn from ``rng``, level arbitrary). :func:`draw_distractors` places a Poisson
number of them (``distractor_rate`` per second) in a clip at a distractor-to-background ratio
drawn in ``distractor_ebr_db`` (defined like the events' EBR, :mod:`.mixer`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from jointsed.data.synth.chain_config import DISTRACTOR_KINDS, RecordingChainConfig
from jointsed.data.synth.dsp import (
    attack_decay,
    bandpass,
    colored_noise,
    highpass,
    impulse_train,
    loguniform,
    lowpass,
    resonator,
    rms,
    smooth_curve,
    unit_rms,
)
from jointsed.data.synth.mixer import PlacedEvent, raised_cosine_fades

Generator = Callable[[np.random.Generator, int, int], np.ndarray]


def _struck(rng: np.random.Generator, n: int, sr: int, times: np.ndarray, amps: np.ndarray,
            modes: tuple[float, float], decay: tuple[float, float], n_modes: int, burst_s: float) -> np.ndarray:
    """Impacts at ``times`` (s) exciting ``n_modes`` resonant modes (frequency and decay ranges)."""
    kernel = rng.standard_normal(max(2, int(burst_s * sr)))
    kernel *= np.exp(-np.arange(kernel.size) / (kernel.size / 3))
    excitation = np.convolve(impulse_train(n, times * sr, amps), kernel)[:n]
    out = np.zeros(n)
    for _ in range(n_modes):
        freq = min(float(loguniform(rng, *modes)), 0.45 * sr)
        out += loguniform(rng, 0.3, 1.0) * resonator(excitation, sr, freq, float(loguniform(rng, *decay)))
    return out


def door(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A door: a slam (low thump of the panel, rattle, latch click, a bounce) or a few knocks."""
    if rng.random() < 0.5:  # slam
        times = np.array([0.0] + ([rng.uniform(0.05, 0.15)] if rng.random() < 0.5 else []))
        amps = np.array([1.0, rng.uniform(0.1, 0.4)])[:times.size]
        thump = _struck(rng, n, sr, times, amps, (50, 200), (0.05, 0.2), 3, 0.004)
        rattle = _struck(rng, n, sr, times, amps, (200, 1500), (0.02, 0.08), 4, 0.002)
        click = highpass(_struck(rng, n, sr, times[:1] + 0.01, amps[:1], (2000, 5000), (0.003, 0.01), 2, 0.0005),
                         sr, 1500)
        return unit_rms(thump) + loguniform(rng, 0.2, 0.8) * unit_rms(rattle) + 0.2 * unit_rms(click)
    count = int(rng.integers(2, 6))
    gap = rng.uniform(0.12, 0.3)
    times = np.arange(count) * gap * rng.uniform(0.9, 1.1, count)
    times = times[times < n / sr - 0.05] if n / sr > 0.1 else times[:1]
    return _struck(rng, n, sr, times, rng.uniform(0.6, 1.0, times.size), (150, 1200), (0.02, 0.06), 4, 0.001)


def keyboard_typing(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Typing: key presses (and their releases) at 4-10 per second in word bursts, an occasional
    lower, louder space bar."""
    duration = n / sr
    rate = rng.uniform(4, 10)
    times = np.cumsum(rng.exponential(1.0 / rate, int(duration * rate * 2) + 2))
    times = times[times < duration - 0.05]
    if times.size == 0:
        times = np.array([0.0])
    space = rng.random(times.size) < 0.15
    press = _struck(rng, n, sr, times[~space], rng.uniform(0.5, 1.0, int((~space).sum())), (1500, 6000),
                    (0.003, 0.012), 3, 0.001)
    release = _struck(rng, n, sr, times + rng.uniform(0.03, 0.08), rng.uniform(0.1, 0.3, times.size),
                      (2000, 6000), (0.002, 0.006), 2, 0.0005)
    spacebar = _struck(rng, n, sr, times[space], rng.uniform(0.8, 1.2, int(space.sum())), (300, 1500),
                       (0.01, 0.03), 3, 0.002) if space.any() else np.zeros(n)
    return press + 0.5 * release + spacebar


def footsteps(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Footsteps: heel and toe impacts every 0.45-0.7 s, a hard-floor click or a scuff, the walker
    approaching or leaving."""
    duration = n / sr
    step = rng.uniform(0.45, 0.7)
    times = np.arange(rng.uniform(0, step / 2), max(duration - 0.05, 0.01), step) + rng.normal(0, 0.02, 1)
    times = np.clip(times, 0.0, max(duration - 0.05, 0.0)) if times.size else np.zeros(1)
    heel = _struck(rng, n, sr, times, rng.uniform(0.7, 1.0, times.size), (80, 300), (0.02, 0.06), 3, 0.003)
    toe = _struck(rng, n, sr, times + rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.5, times.size), (150, 600),
                  (0.01, 0.04), 2, 0.002)
    out = unit_rms(heel) + 0.5 * unit_rms(toe)
    if rng.random() < 0.5:  # hard shoes on a hard floor
        out += rng.uniform(0.2, 0.6) * unit_rms(_struck(rng, n, sr, times, np.ones(times.size), (1500, 4000),
                                                        (0.005, 0.015), 2, 0.0005))
    far = rng.uniform(0.2, 0.6)
    approaching = rng.random() < 0.5
    return out * (np.linspace(far, 1.0, n) if approaching else np.linspace(1.0, far, n))


def traffic_rumble(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A vehicle passing outside: low engine harmonics gliding down (Doppler), rumble and tyre hiss
    rising and falling."""
    u = np.linspace(-1.0, 1.0, n)
    centre, width = rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.8)
    passby = np.exp(-0.5 * ((u - centre) / width) ** 2)
    f0 = loguniform(rng, 25, 60) * (1.0 + rng.uniform(0.02, 0.06) * -np.tanh((u - centre) / (0.3 * width)))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    k = np.arange(1, 9)
    weights = loguniform(rng, 0.2, 1.0, k.size) / k
    engine = sum(w * np.sin(i * phase + rng.uniform(0, 2 * np.pi)) for i, w in zip(k, weights))
    rumble = lowpass(colored_noise(rng, n, 2.0), sr, loguniform(rng, 80, 250))
    hiss = bandpass(colored_noise(rng, n, 0.5), sr, 500, 2000)
    return (unit_rms(rumble) + rng.uniform(0.3, 1.0) * unit_rms(engine) + rng.uniform(0.05, 0.3) * unit_rms(hiss)) \
        * (0.05 + passby)


_SCALES = (np.array([0, 2, 4, 5, 7, 9, 11]), np.array([0, 2, 3, 5, 7, 8, 10]))  # major, natural minor


def music(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Music from a radio or a phone: a melody over sustained chords, plucked or organ-like notes."""
    duration = n / sr
    scale = _SCALES[int(rng.integers(2))]
    root = float(loguniform(rng, 110, 330))
    beat = 60.0 / rng.uniform(80, 140)
    plucked = rng.random() < 0.5
    slope = rng.uniform(0.8, 1.6)
    out = np.zeros(n)

    def note(freq: float, start: float, length: float, amp: float) -> None:
        a, b = int(start * sr), min(n, int((start + length) * sr))
        if b - a < 8:
            return
        t = np.arange(b - a) / sr
        env = attack_decay(b - a, sr, 0.005, 4.0) if plucked else np.minimum(1.0, np.minimum(t, t[::-1]) / 0.03)
        k = np.arange(1, 7)
        k = k[k * freq < 0.45 * sr]
        out[a:b] += amp * env * (k ** -slope @ np.sin(2 * np.pi * freq * k[:, None] * t[None, :]))

    t = 0.0
    while t < duration:  # melody
        length = beat * float(rng.choice([0.5, 1.0, 1.0, 2.0]))
        degree = int(rng.integers(0, 10))
        freq = root * 2.0 ** ((scale[degree % 7] + 12 * (degree // 7) + 12) / 12)
        note(freq, t, length * 0.95, 1.0)
        t += length
    bar = 4 * beat
    for start in np.arange(0.0, duration, bar):  # chords: root, third, fifth of a scale degree
        degree = int(rng.choice([0, 3, 4, 5]))
        for step in (0, 2, 4):
            d = degree + step
            note(root * 2.0 ** ((scale[d % 7] + 12 * (d // 7)) / 12), start, bar, 0.3)
    return out


def clatter(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Objects handled or dropped: clusters of wood and plastic impacts, sometimes a scrape."""
    duration = n / sr
    count = int(rng.integers(3, 13))
    times = np.sort(rng.uniform(0, max(duration - 0.05, 0.01), count))
    out = _struck(rng, n, sr, times, loguniform(rng, 0.2, 1.0, count), (150, 2500), (0.01, 0.08), 5, 0.002)
    if rng.random() < 0.4:
        scrape = bandpass(colored_noise(rng, n, 0.5), sr, loguniform(rng, 300, 1000), loguniform(rng, 2000, 5000))
        out = unit_rms(out) + rng.uniform(0.1, 0.5) * unit_rms(scrape) * smooth_curve(rng, n, sr, 3.0) ** 3
    return out


def clapping(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Hand claps: bursts of noise with a hand-cavity resonance, 2-6 per second."""
    duration = n / sr
    rate = rng.uniform(2, 6)
    times = np.arange(0.0, max(duration - 0.03, 0.01), 1.0 / rate) + rng.normal(0, 0.01, 1)
    times = np.clip(times, 0.0, None) if times.size else np.zeros(1)
    noise = _struck(rng, n, sr, times, rng.uniform(0.7, 1.0, times.size), (800, 2500), (0.002, 0.006), 2, 0.008)
    return noise + 0.3 * unit_rms(highpass(noise, sr, 3000)) * rms(noise)


DISTRACTOR_GENERATORS: dict[str, Generator] = {
    "door": door,
    "keyboard_typing": keyboard_typing,
    "footsteps": footsteps,
    "traffic_rumble": traffic_rumble,
    "music": music,
    "clatter": clatter,
    "clapping": clapping,
}
assert tuple(DISTRACTOR_GENERATORS) == DISTRACTOR_KINDS
#: how long each kind lasts (s), drawn log-uniform (at most the clip)
DISTRACTOR_DURATIONS: dict[str, tuple[float, float]] = {
    "door": (0.4, 1.5),
    "keyboard_typing": (1.0, 6.0),
    "footsteps": (1.5, 6.0),
    "traffic_rumble": (3.0, 10.0),
    "music": (2.0, 10.0),
    "clatter": (0.5, 3.0),
    "clapping": (0.8, 4.0),
}


def draw_distractors(plan_rng: np.random.Generator, sound_rngs: Callable[[int], np.random.Generator],
                     background: np.ndarray, sample_rate: int, config: RecordingChainConfig,
                     fade_duration: float) -> list[PlacedEvent]:
    """The distractors of one clip, faded and scaled against ``background`` (the clip's background
    at its final level), as :class:`~jointsed.data.synth.mixer.PlacedEvent` (``label`` = kind).

    ``plan_rng`` draws how many, which kinds, where and how loud; ``sound_rngs(k)`` the k-th sound
    (one generator per distractor: adding one never changes the others).
    """
    n = background.shape[0]
    count = int(plan_rng.poisson(config.distractor_rate * n / sample_rate))
    placed = []
    for k in range(count):
        kind = config.distractor_kinds[int(plan_rng.integers(len(config.distractor_kinds)))]
        length = min(n, max(16, int(loguniform(plan_rng, *DISTRACTOR_DURATIONS[kind]) * sample_rate)))
        start = int(plan_rng.integers(0, n - length + 1))
        ratio_db = float(plan_rng.uniform(*config.distractor_ebr_db))
        sound = raised_cosine_fades(DISTRACTOR_GENERATORS[kind](sound_rngs(k), length, sample_rate), sample_rate,
                                    fade_duration)
        sound_rms, background_rms = rms(sound), rms(background[start:start + length])
        if sound_rms == 0.0 or background_rms == 0.0:  # nothing to scale against: leave it out
            continue
        placed.append(PlacedEvent(kind, start, start + length,
                                  sound * (background_rms / sound_rms * 10.0 ** (ratio_db / 20.0)), ratio_db))
    return placed
