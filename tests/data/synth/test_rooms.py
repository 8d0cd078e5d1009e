"""The room bank of the recording chain (jointsed.data.synth.rooms): simulated RIRs whose RT60,
measured here independently by Schroeder backward integration, lies in the requested range; the
direct path at the start; the same bank whatever the seed's workers."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.data.synth.chain_config import RecordingChainConfig
from jointsed.data.synth.rooms import LEAD, build_rir_bank

SR = 16000


def _t30(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 from the -5..-35 dB part of the Schroeder energy decay curve (T30; the module fits T20)."""
    edc = np.cumsum(rir[::-1].astype(np.float64) ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -35)
    slope, _ = np.polyfit(np.flatnonzero(fit) / sample_rate, edc_db[fit], 1)
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [(0.2, 0.5), (0.8, 0.8)])
def test_measured_rt60_lies_in_the_requested_range(rt60):
    config = RecordingChainConfig(enabled=True, rt60=rt60, rir_bank_size=4 if rt60[1] < 0.6 else 1,
                                  rir_sources_per_room=2)
    bank = build_rir_bank(config, seed=7, sample_rate=SR)
    assert len(bank.rooms) == config.rir_bank_size
    for room in bank.rooms:
        assert rt60[0] <= room.rt60_target <= rt60[1]
        assert len(room.rirs) == 2
        for rir in room.rirs:
            measured = _t30(rir, SR)
            # the decay is exponential: T30 agrees with the target within 20 %
            assert 0.8 * rt60[0] <= measured <= 1.2 * rt60[1], (room, measured)
            assert measured == pytest.approx(room.rt60_target, rel=0.2)
            assert rir.dtype == np.float32 and np.sum(rir.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-5)
            # the direct path is where the recording chain expects it (labels keep their onsets): the
            # RIR starts there (nothing before it but its fractional-delay filter's ripple), and it
            # is among the strongest arrivals (coincident reflections of a shoebox may add up higher)
            magnitude = np.abs(rir)
            assert LEAD - 3 <= int(np.argmax(magnitude > 0.2 * magnitude.max())) <= LEAD + 1
            assert magnitude[LEAD - 2:LEAD + 3].max() >= 0.5 * magnitude.max()
            assert np.sum(rir[:LEAD - 3].astype(np.float64) ** 2) < 0.01
        for distance in room.distances:
            assert 0.5 <= distance <= 4.0


def test_rooms_differ_and_the_bank_does_not_depend_on_workers():
    config = RecordingChainConfig(enabled=True, rt60=(0.2, 0.3), rir_bank_size=8, rir_sources_per_room=2)
    serial = build_rir_bank(config, seed=11, sample_rate=SR, workers=1)
    parallel = build_rir_bank(config, seed=11, sample_rate=SR, workers=2)
    assert len({r.dims for r in serial.rooms}) == 8
    for a, b in zip(serial.rooms, parallel.rooms):
        assert a.dims == b.dims and a.rt60 == b.rt60
        assert all(np.array_equal(x, y) for x, y in zip(a.rirs, b.rirs))
    other = build_rir_bank(config, seed=12, sample_rate=SR)
    assert {r.dims for r in other.rooms}.isdisjoint({r.dims for r in serial.rooms})
    summary = serial.describe()
    assert summary["rooms"] == 8 and summary["sources_per_room"] == 2
    assert summary["rt60_measured_s"]["min"] <= summary["rt60_measured_s"]["median"] <= summary["rt60_measured_s"]["max"]
    assert "pyroomacoustics" in summary["simulator"]
