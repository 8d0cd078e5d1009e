"""Settings of the recording chain (``SynthConfig.recording_chain``): what turns a clean soundscape
into something like one of DESED's real recordings.

A light module (no numpy, no scipy): the command line's parser imports the presets, which hold
one of these. What each setting mimics is in docs/synthetic_data.md; the chain itself is
:mod:`jointsed.data.synth.recording_chain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from jointsed.data.synth.errors import SynthError

#: the kinds of sound that no DESED class covers, added unlabelled to recorded clips
#: (:data:`jointsed.data.synth.distractors.DISTRACTOR_GENERATORS` has one generator per name)
DISTRACTOR_KINDS: tuple[str, ...] = ("door", "keyboard_typing", "footsteps", "traffic_rumble", "music",
                                     "clatter", "clapping")
#: the extra background layers of recorded clips (:mod:`jointsed.data.synth.ambience`)
AMBIENCE_KINDS: tuple[str, ...] = ("babble", "hum", "ventilation", "wind", "street", "appliance")


@dataclass(frozen=True)
class RecordingChainConfig:
    """The recording chain applied to the splits that stand for DESED's real recordings (weak,
    unlabelled, validation, public_eval); the strongly labelled synthetic split stays a clean
    soundscape. Ranges are (low, high); a value is drawn uniformly in it per clip (per room for
    the reverberation times)."""

    enabled: bool = False  # off: every split is the clean soundscape (bit-identical to before the chain existed)
    # room: simulated room impulse responses (pyroomacoustics image-source model)
    reverb_probability: float = 0.9  # share of recorded clips made in a room (the others: close or outdoor microphone, no reverb)
    rt60: tuple[float, float] = (0.2, 0.9)  # s, reverberation time of the rooms (drawn log-uniform per room)
    rir_bank_size: int = 32  # rooms simulated per dataset (per seed); clips draw their room from them
    rir_sources_per_room: int = 3  # source positions per room; each event, distractor and the background draw one
    source_distance: tuple[float, float] = (0.5, 4.0)  # m, source to microphone
    # microphone / device
    highpass_hz: tuple[float, float] = (40.0, 300.0)  # low cut of the device (drawn log-uniform)
    lowpass_hz: tuple[float, float] = (3500.0, 7000.0)  # high cut of the device (drawn log-uniform; at most 0.45 x sample rate)
    eq_bands: int = 2  # peaking EQ bands per clip (the device's frequency response), 300 Hz - 5 kHz
    eq_gain_db: float = 8.0  # each band's gain is drawn in [-eq_gain_db, +eq_gain_db] dB
    compression_probability: float = 0.3  # share of clips through a mild dynamic range compressor (automatic gain)
    clipping_probability: float = 0.1  # share of clips driven 1-6 dB into soft clipping (overloaded input)
    gain_db: tuple[float, float] = (-10.0, 6.0)  # recording level change, dB
    sensor_noise_dbfs: tuple[float, float] = (-80.0, -60.0)  # microphone and converter self-noise, dB full scale RMS
    # sounds of no target class (never labelled)
    distractor_rate: float = 0.1  # mean distractor sounds per second of audio (Poisson; 1 per 10 s clip)
    distractor_ebr_db: tuple[float, float] = (0.0, 20.0)  # distractor-to-background ratio, dB (like the events' EBR)
    distractor_kinds: tuple[str, ...] = DISTRACTOR_KINDS  # which distractor kinds to draw from
    # backgrounds
    ambience_layers: tuple[int, int] = (1, 3)  # extra background layers mixed into each clip's background
    ambience_level_db: tuple[float, float] = (-12.0, 0.0)  # each layer's level relative to the base background, dB
    background_drift_db: float = 6.0  # peak-to-peak slow level drift of the background, dB

    def validate(self, sample_rate: int | None = None) -> None:
        """Raise :class:`SynthError` naming the first bad setting (``recording_chain.<name>``)."""
        if not isinstance(self.enabled, bool):
            raise SynthError(f"{_key('enabled')} must be true or false, got {self.enabled!r}")
        for name in ("reverb_probability", "compression_probability", "clipping_probability"):
            _check_number(name, getattr(self, name), 0.0, 1.0)
        _check_range("rt60", self.rt60, 0.1, 1.5)
        _check_int("rir_bank_size", self.rir_bank_size, 1, 512)
        _check_int("rir_sources_per_room", self.rir_sources_per_room, 1, 16)
        _check_range("source_distance", self.source_distance, 0.2, 8.0)
        _check_range("highpass_hz", self.highpass_hz, 20.0, 2000.0)
        _check_range("lowpass_hz", self.lowpass_hz, 1000.0, 96000.0)
        if self.lowpass_hz[0] <= self.highpass_hz[1]:
            raise SynthError(f"{_key('lowpass_hz')} must lie above {_key('highpass_hz')}: "
                             f"got {self.lowpass_hz} and {self.highpass_hz}")
        if sample_rate is not None and self.highpass_hz[1] >= 0.4 * sample_rate:
            raise SynthError(f"{_key('highpass_hz')} must stay below 0.4 x sample_rate ({0.4 * sample_rate:g} Hz), "
                             f"got {self.highpass_hz}")
        _check_int("eq_bands", self.eq_bands, 0, 6)
        _check_number("eq_gain_db", self.eq_gain_db, 0.0, 20.0)
        _check_range("gain_db", self.gain_db, -40.0, 20.0)
        _check_range("sensor_noise_dbfs", self.sensor_noise_dbfs, -120.0, -30.0)
        _check_number("distractor_rate", self.distractor_rate, 0.0, 2.0)
        _check_range("distractor_ebr_db", self.distractor_ebr_db, -20.0, 40.0)
        kinds = self.distractor_kinds
        if (not isinstance(kinds, tuple) or not kinds or len(set(kinds)) != len(kinds)
                or any(k not in DISTRACTOR_KINDS for k in kinds)):
            raise SynthError(f"{_key('distractor_kinds')} must be distinct names among {', '.join(DISTRACTOR_KINDS)}, "
                             f"got {kinds!r}")
        _check_range("ambience_layers", self.ambience_layers, 0, len(AMBIENCE_KINDS), integer=True)
        _check_range("ambience_level_db", self.ambience_level_db, -40.0, 10.0)
        _check_number("background_drift_db", self.background_drift_db, 0.0, 20.0)


def _key(name: str) -> str:
    return f"recording_chain.{name}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _check_number(name: str, value: Any, low: float, high: float) -> None:
    if not _is_number(value) or not low <= value <= high:
        raise SynthError(f"{_key(name)} must be a number in {low:g}..{high:g}, got {value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SynthError(f"{_key(name)} must be an integer in {low}..{high}, got {value!r}")


def _check_range(name: str, value: Any, low: float, high: float, integer: bool = False) -> None:
    """``value`` is a (low, high) pair inside [low, high] with value[0] <= value[1]."""
    kind = "integers" if integer else "numbers"
    ok = (isinstance(value, tuple) and len(value) == 2
          and all((isinstance(v, int) and not isinstance(v, bool)) if integer else _is_number(v) for v in value)
          and low <= value[0] <= value[1] <= high)
    if not ok:
        raise SynthError(f"{_key(name)} must be (low, high), {kind} with {low:g} <= low <= high <= {high:g}, "
                         f"got {value!r}")


def chain_with(base: RecordingChainConfig, changes: bool | Mapping[str, Any] | RecordingChainConfig
               ) -> RecordingChainConfig:
    """``base`` with ``changes``: a bool switches the chain on or off (other settings kept), a
    mapping overrides settings by name (values as plain data: lists for ranges), a
    :class:`RecordingChainConfig` replaces it. Raises :class:`SynthError` naming a bad key."""
    from jointsed.config import ConfigError, from_dict, merge, to_dict

    if isinstance(changes, RecordingChainConfig):
        return changes
    if isinstance(changes, bool):
        changes = {"enabled": changes}
    if not isinstance(changes, Mapping):
        raise SynthError(f"recording_chain must be true/false or a mapping of its settings, got {changes!r}")
    try:
        return from_dict(RecordingChainConfig, merge(to_dict(base), dict(changes)), "recording_chain")
    except ConfigError as exc:
        raise SynthError(str(exc)) from None

