"""Room impulse responses of the recording chain: a bank of simulated rooms per dataset.

Each room is a shoebox of random domestic dimensions with one microphone and
``rir_sources_per_room`` source positions, simulated with the image-source model of
pyroomacoustics (:class:`pyroomacoustics.ShoeBox`; the wall absorption comes from the target
reverberation time through Sabine's formula, :func:`pyroomacoustics.inverse_sabine`).
Simulating a room takes 0.01-1 s, so a dataset simulates ``rir_bank_size`` rooms once
(:func:`build_rir_bank`) and each recorded clip draws one of them.

Two departures from a plain ``inverse_sabine`` room, both for the same reason (a bank whose
measured RT60s lie in the requested range, built in seconds):

* The image-source order covers the first :data:`COVERED_DECAY_DB` dB of the decay, not all 60:
  the rest of the tail lies under the clip's background, and covering it costs about 3x the time
  (the number of images grows with the cube of the order).
* A shoebox simulated this way does not decay at Sabine's rate (its late field is not diffuse:
  measured RT60s run 10-30 % longer than the target at 0.6-0.9 s, shorter at 0.2 s). A cheap
  first simulation (one source, :data:`CALIBRATION_DECAY_DB` dB) measures the room, and the
  target given to ``inverse_sabine`` is corrected once by the ratio before the real simulation.

Every RIR is stored from :data:`LEAD` samples before its direct-path arrival (the propagation
delay removed: the convolved event starts where its label says) and scaled to unit energy (the
room changes an event's timbre and smears it in time, not its overall level, so the
event-to-background ratios drawn by the mixer keep their meaning). ``rt60`` of each room is
measured on its RIRs (:func:`schroeder_rt60`).

Determinism: room ``i`` draws everything from ``SeedSequence(seed, spawn_key=(0, i))`` (0 is no
split's id), and the image-source model has no randomness of its own.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from jointsed.data.synth.chain_config import RecordingChainConfig
from jointsed.data.synth.dsp import loguniform

#: room sizes drawn uniformly (m): length, width (at most the length), height
ROOM_LENGTH = (3.0, 8.0)
ROOM_WIDTH = (2.5, 6.0)
ROOM_HEIGHT = (2.4, 3.3)
#: the microphone is this far from the walls at least (m), 0.8-1.8 m above the floor (a phone or
#: camera held or on a table); sources are 0.3 m from the walls, 0.2-2 m above the floor
MIC_WALL_MARGIN = 0.5
SOURCE_WALL_MARGIN = 0.3
COVERED_DECAY_DB = 40.0
CALIBRATION_DECAY_DB = 30.0
#: the RIR is cut where its energy decay curve reaches this level (dB), with a short fade
TRUNCATE_DB = -45.0
SPEED_OF_SOUND = 343.0  # m/s, the value pyroomacoustics uses by default


@dataclass(frozen=True)
class Room:
    """One simulated room of the bank.

    Attributes:
        dims: length, width, height (m).
        rt60_target: the reverberation time drawn for the room (s).
        rt60: the mean RT60 measured on its RIRs (Schroeder, :func:`schroeder_rt60`).
        rirs: one per source position, float32, unit energy, the direct path at sample :data:`LEAD`.
        distances: source-microphone distance of each position (m).
    """

    dims: tuple[float, float, float]
    rt60_target: float
    rt60: float
    rirs: tuple[np.ndarray, ...]
    distances: tuple[float, ...]


@dataclass(frozen=True)
class RirBank:
    """The rooms of one dataset at one sample rate."""

    rooms: tuple[Room, ...]
    sample_rate: int

    def describe(self) -> dict[str, Any]:
        """Plain-data summary for the dataset's synth.json."""
        rt60 = np.array([r.rt60 for r in self.rooms])
        return {
            "rooms": len(self.rooms),
            "sources_per_room": len(self.rooms[0].rirs) if self.rooms else 0,
            "rt60_measured_s": {"min": round(float(rt60.min()), 3), "median": round(float(np.median(rt60)), 3),
                                "max": round(float(rt60.max()), 3)} if self.rooms else {},
            "simulator": f"pyroomacoustics {_pra_version()} image-source model (ShoeBox, inverse_sabine)",
        }


#: samples kept before the direct-path arrival: half the fractional-delay filter of pyroomacoustics
#: (its default ``frac_delay_length`` is 81), so the direct path's filter is whole
LEAD = 40


def _pra_version() -> str:
    import pyroomacoustics

    return pyroomacoustics.__version__


def schroeder_rt60(rir: np.ndarray, sample_rate: int, fit_db: tuple[float, float] = (-5.0, -25.0)) -> float:
    """RT60 (s) of ``rir``: Schroeder backward integration, a line fitted to the energy decay
    curve between ``fit_db`` (the T20 range by default), extrapolated to -60 dB."""
    energy = np.cumsum(np.square(np.asarray(rir, dtype=np.float64))[::-1])[::-1]
    decay_db = 10.0 * np.log10(np.maximum(energy / energy[0], 1e-30))
    start, stop = int(np.argmax(decay_db <= fit_db[0])), int(np.argmax(decay_db <= fit_db[1]))
    if stop <= start + 1:
        raise ValueError(f"the impulse response does not decay by {-fit_db[1]:g} dB")
    times = np.arange(start, stop) / sample_rate
    slope = np.polyfit(times, decay_db[start:stop], 1)[0]
    return float(-60.0 / slope)


def _order_for(dims: np.ndarray, rt60: float, decay_db: float) -> int:
    """Image-source order whose images reach every direction up to the time of ``decay_db`` dB of
    decay (the images of order <= N fill the octahedron sum_i |x_i| / L_i <= N)."""
    reach = SPEED_OF_SOUND * rt60 * decay_db / 60.0
    return max(2, int(math.ceil(reach * math.sqrt(float(np.sum(1.0 / dims**2))))))


def _simulate(dims: np.ndarray, rt60: float, mic: np.ndarray, sources: list[np.ndarray], sample_rate: int,
              decay_db: float) -> list[np.ndarray]:
    import pyroomacoustics as pra

    absorption, full_order = pra.inverse_sabine(rt60, dims, c=SPEED_OF_SOUND)
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption),
                       max_order=min(full_order, _order_for(dims, rt60, decay_db)))
    for position in sources:
        room.add_source(position)
    room.add_microphone(mic)
    room.compute_rir()
    return [np.asarray(h, dtype=np.float64) for h in room.rir[0]]


def _trim(rir: np.ndarray, distance: float, sample_rate: int) -> np.ndarray:
    """From LEAD samples before the direct path to where the decay reaches TRUNCATE_DB, faded, unit energy."""
    direct = int(round(distance / SPEED_OF_SOUND * sample_rate)) + LEAD  # pyroomacoustics delays by LEAD too
    out = rir[max(0, direct - LEAD):].copy()
    energy = np.cumsum(np.square(out)[::-1])[::-1]
    below = np.flatnonzero(energy <= energy[0] * 10.0 ** (TRUNCATE_DB / 10.0))
    out = out[:max(int(below[0]), 2 * LEAD + 1)] if below.size else out
    fade = min(out.size // 4, int(0.01 * sample_rate))
    if fade > 0:
        out[out.size - fade:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    return (out / np.sqrt(np.sum(np.square(out)))).astype(np.float32)


def _positions(rng: np.random.Generator, dims: np.ndarray, n_sources: int,
               distance: tuple[float, float]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A microphone and ``n_sources`` source positions at a distance in ``distance`` from it (the
    nearest to the range after 100 draws when the room is too small for it)."""
    length, width, height = dims
    mic = np.array([rng.uniform(MIC_WALL_MARGIN, length - MIC_WALL_MARGIN),
                    rng.uniform(MIC_WALL_MARGIN, width - MIC_WALL_MARGIN),
                    rng.uniform(0.8, min(1.8, height - MIC_WALL_MARGIN))])
    sources = []
    for _ in range(n_sources):
        best, best_miss = None, math.inf
        for _ in range(100):
            position = np.array([rng.uniform(SOURCE_WALL_MARGIN, length - SOURCE_WALL_MARGIN),
                                 rng.uniform(SOURCE_WALL_MARGIN, width - SOURCE_WALL_MARGIN),
                                 rng.uniform(0.2, min(2.0, height - SOURCE_WALL_MARGIN))])
            d = float(np.linalg.norm(position - mic))
            miss = max(distance[0] - d, d - distance[1], 0.0)
            if miss < best_miss:
                best, best_miss = position, miss
            if miss == 0.0:
                break
        sources.append(best)
    return mic, sources


def simulate_room(config: RecordingChainConfig, seed: int, index: int, sample_rate: int) -> Room:
    """Room ``index`` of the bank of ``seed`` (deterministic)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, index)))
    rt60_target = float(loguniform(rng, *config.rt60))
    dims = np.array([rng.uniform(*ROOM_LENGTH), 0.0, rng.uniform(*ROOM_HEIGHT)])
    dims[1] = rng.uniform(ROOM_WIDTH[0], min(dims[0], ROOM_WIDTH[1]))
    mic, sources = _positions(rng, dims, config.rir_sources_per_room, config.source_distance)
    while True:  # a short RT60 in a large room needs more absorption than walls have: shrink the room
        try:
            probe = _simulate(dims, rt60_target, mic, sources[:1], sample_rate, CALIBRATION_DECAY_DB)[0]
            break
        except ValueError:  # Sabine's absorption is proportional to the room's size: this ends
            dims, mic, sources = dims * 0.9, mic * 0.9, [s * 0.9 for s in sources]
    measured = schroeder_rt60(probe, sample_rate)
    corrected = float(np.clip(rt60_target * rt60_target / measured, 0.5 * rt60_target, 1.5 * rt60_target))
    try:
        rirs = _simulate(dims, corrected, mic, sources, sample_rate, COVERED_DECAY_DB)
    except ValueError:  # the correction asked for more absorption than the walls can have
        rirs = _simulate(dims, rt60_target, mic, sources, sample_rate, COVERED_DECAY_DB)
    distances = [float(np.linalg.norm(s - mic)) for s in sources]
    trimmed = tuple(_trim(h, d, sample_rate) for h, d in zip(rirs, distances))
    rt60 = float(np.mean([schroeder_rt60(h, sample_rate) for h in trimmed]))
    return Room(dims=tuple(float(v) for v in dims), rt60_target=rt60_target, rt60=rt60, rirs=trimmed,
                distances=tuple(distances))


def build_rir_bank(config: RecordingChainConfig, seed: int, sample_rate: int, workers: int = 1) -> RirBank:
    """The ``config.rir_bank_size`` rooms of the dataset of ``seed`` (the same whatever ``workers``).

    The image-source model holds the GIL, so rooms are simulated in ``workers`` processes; the
    last bank built is kept in memory (the same dataset settings built again reuse it).
    """
    key = (config.rt60, config.rir_bank_size, config.rir_sources_per_room, config.source_distance)
    return _bank(key, seed, sample_rate, max(1, min(workers, config.rir_bank_size // 4)))


@functools.lru_cache(maxsize=2)
def _bank(key: tuple, seed: int, sample_rate: int, workers: int) -> RirBank:
    rt60, size, sources, distance = key
    config = RecordingChainConfig(rt60=rt60, rir_bank_size=size, rir_sources_per_room=sources,
                                  source_distance=distance)
    simulate = functools.partial(simulate_room, config, seed, sample_rate=sample_rate)
    if workers <= 1:
        return RirBank(tuple(simulate(index=i) for i in range(size)), sample_rate)
    from jointsed.utils.workers import exit_with_parent

    context = multiprocessing.get_context("spawn")  # as the clip workers: safe whatever the parent loaded
    with ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with_parent,
                             initargs=(os.getpid(),)) as executor:
        return RirBank(tuple(executor.map(_simulate_index, [(config, seed, i, sample_rate) for i in range(size)])),
                       sample_rate)


def _simulate_index(args: tuple) -> Room:
    return simulate_room(*args)
