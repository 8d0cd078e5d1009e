"""The recording chain: a clean soundscape made to sound like one of DESED's real recordings.

In DESED the strongly labelled clips are synthetic soundscapes (isolated events mixed over
backgrounds), while the weak, unlabelled, validation and evaluation clips are real recordings
(Audioset, i.e. YouTube videos: rooms, phones and cameras, other sounds, real backgrounds).
With ``recording_chain.enabled`` the splits in :data:`RECORDED_SPLITS` go through, per clip:

1. a richer background (:mod:`.ambience`), mixed in before the events are placed, so the events'
   event-to-background ratios are against the whole background, as on the synthetic split;
2. the events mixed as on the synthetic split (:func:`jointsed.data.synth.mixer.mix_soundscape`);
3. unlabelled distractor sounds (:mod:`.distractors`);
4. a room (:mod:`.rooms`; with ``reverb_probability``): one room of the dataset's bank, every
   event, distractor and the background at a random source position of that room (events of one
   clip may stand in different places), each convolved with its RIR;
5. the microphone and device (:mod:`.device`).

Labels do not change: an event keeps its onset and offset (the room's RIRs start at the direct
path, so a convolved event starts where its label says; its reverberant tail after the offset is
not labelled, as annotators of real recordings label the sound, not the room's decay).

Seeds: part ``p`` of clip ``index`` of split ``split_id`` draws from
``SeedSequence(seed, spawn_key=(split_id, 2, index, p))`` (:func:`chain_rng`; 0 background
layers, 1 the distractor plan, 2 the room and positions, 3 the device, 4 + k the k-th
distractor's sound): the clean mix's own draws (``(split_id, 1, ...)``) are untouched, so a
recorded clip holds the very events of its clean version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import signal as sps

from jointsed.data.synth.ambience import recorded_background
from jointsed.data.synth.chain_config import RecordingChainConfig
from jointsed.data.synth.device import record_device
from jointsed.data.synth.distractors import draw_distractors
from jointsed.data.synth.mixer import PlacedEvent, Soundscape
from jointsed.data.synth.rooms import LEAD, RirBank, build_rir_bank

#: the splits that stand for DESED's real recordings; ``synthetic`` (strong labels) stays clean
RECORDED_SPLITS: tuple[str, ...] = ("weak", "unlabel_in_domain", "validation", "public_eval")
PART_BACKGROUND, PART_DISTRACTOR_PLAN, PART_ROOM, PART_DEVICE, PART_FIRST_DISTRACTOR = range(5)


def chain_rng(seed: int, split_id: int, index: int, part: int) -> np.random.Generator:
    """The generator of one part of one clip's recording (see the module doc)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(split_id, 2, index, part)))


@dataclass(frozen=True)
class Recording:
    """One recorded clip.

    Attributes:
        mixture: (N,) the clip as written.
        distractors: the distractor sounds as mixed before the room and device (``label`` = kind,
            ``ebr_db`` = their ratio to the background).
        room: index of the room in the bank, None when the clip has no reverberation.
        normalised: the device's final peak limit lowered the clip.
    """

    mixture: np.ndarray
    distractors: tuple[PlacedEvent, ...]
    room: Optional[int]
    normalised: bool


@dataclass(frozen=True)
class RecordingChain:
    """The chain's settings and the dataset's room bank (picklable: sent once to each worker)."""

    config: RecordingChainConfig
    seed: int
    bank: Optional[RirBank]

    @classmethod
    def build(cls, config: RecordingChainConfig, seed: int, sample_rate: int, workers: int = 1) -> "RecordingChain":
        """The chain of the dataset of ``seed``: simulates its room bank (none when no clip has a room)."""
        bank = build_rir_bank(config, seed, sample_rate, workers) if config.reverb_probability > 0 else None
        return cls(config, seed, bank)

    def background(self, base: np.ndarray, split_id: int, index: int, sample_rate: int) -> np.ndarray:
        """The recorded clip's background from the clean one's ``base`` (level arbitrary)."""
        rng = chain_rng(self.seed, split_id, index, PART_BACKGROUND)
        return recorded_background(base, rng, sample_rate, self.config)[0]

    def record(self, scape: Soundscape, split_id: int, index: int, sample_rate: int,
               fade_duration: float) -> Recording:
        """``scape`` (mixed over :meth:`background`) with distractors, through a room and a device."""
        def rng(part: int) -> np.random.Generator:
            return chain_rng(self.seed, split_id, index, part)

        n = scape.mixture.shape[0]
        distractors = draw_distractors(rng(PART_DISTRACTOR_PLAN), lambda k: rng(PART_FIRST_DISTRACTOR + k),
                                       scape.background, sample_rate, self.config, fade_duration)
        sounds = [*scape.events, *distractors]
        room_rng = rng(PART_ROOM)
        room_index = None
        if self.bank is not None and room_rng.random() < self.config.reverb_probability:
            room_index = int(room_rng.integers(len(self.bank.rooms)))
            rirs = self.bank.rooms[room_index].rirs
            positions = room_rng.integers(len(rirs), size=1 + len(sounds))  # the background's first
            # one convolution per source position: the sounds that stand there are summed first
            at_position = {int(p): np.zeros(n) for p in np.unique(positions)}
            at_position[int(positions[0])] += scape.background
            for position, sound in zip(positions[1:], sounds):
                at_position[int(position)][sound.start:sound.stop] += sound.signal
            room = np.zeros(n)
            for position, dry in at_position.items():
                room += sps.oaconvolve(dry, rirs[position])[LEAD:LEAD + n]
        else:
            room = scape.background.copy()
            for sound in sounds:
                room[sound.start:sound.stop] += sound.signal
        mixture, normalised = record_device(room, rng(PART_DEVICE), sample_rate, self.config)
        return Recording(mixture, tuple(distractors), room_index, normalised)

    def describe(self) -> dict:
        """What the dataset's synth.json says about the chain beyond its settings."""
        return {"splits": list(RECORDED_SPLITS), "rir_bank": self.bank.describe() if self.bank else None}
