"""``jointsed synth``: write a synthetic DESED-like dataset (no download needed).

``--recording-chain on|off`` switches the recording chain of the real splits (room, device,
distractor sounds, richer backgrounds; docs/synthetic_data.md), ``--set key=value`` overrides any
setting (value parsed as YAML), the chain's as ``--set recording_chain.rt60=[0.3,0.6]``.
"""

from __future__ import annotations

import argparse

HELP = "write a synthetic DESED-layout dataset (weak, synthetic, unlabelled, validation, eval) offline"


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from jointsed.data.synth.presets import PRESETS

    sizes = ", ".join(f"{name}: {c.n_weak}/{c.n_synthetic}/{c.n_unlabelled}/{c.n_validation}/{c.n_eval}"
                      for name, c in PRESETS.items())
    parser.add_argument("--preset", choices=list(PRESETS), default="demo",
                        help=f"dataset size, weak/synthetic/unlabelled/validation/eval clips ({sizes}); default demo")
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder to create (DESED layout)")
    parser.add_argument("--seed", type=_non_negative_int, metavar="N", default=0, help="random seed (same seed -> same files)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out folder (only once the new dataset is complete)")
    parser.add_argument("--stems", action="store_true",
                        help="also write each event's isolated stem and the background under stems/")
    parser.add_argument("--sources", metavar="DIR",
                        help="real recordings in the DESED soundbank layout (foreground/<label>/*.wav, "
                             "background/**/*.wav) instead of the built-in sound generators")
    parser.add_argument("--n-weak", type=_non_negative_int, metavar="N", help="weakly labelled training clips")
    parser.add_argument("--n-synthetic", type=_non_negative_int, metavar="N", help="strongly labelled training clips")
    parser.add_argument("--n-unlabelled", type=_non_negative_int, metavar="N", help="unlabelled training clips")
    parser.add_argument("--n-validation", type=_non_negative_int, metavar="N",
                        help="validation clips (at most 1168, the real validation layout)")
    parser.add_argument("--n-eval", type=_non_negative_int, metavar="N",
                        help="held-out evaluation clips on DESED's public-evaluation layout (at most 692; "
                             "audio/eval/public, metadata/eval/public.tsv)")
    parser.add_argument("--clip-duration", type=float, metavar="SECONDS", help="seconds per clip (default 10)")
    parser.add_argument("--sample-rate", type=int, metavar="HZ", help="Hz (default 16000)")
    parser.add_argument("--ebr", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="event-to-background ratio range in dB (default 6 30)")
    chain_defaults = ", ".join(f"{name} {'on' if c.recording_chain.enabled else 'off'}" for name, c in PRESETS.items())
    parser.add_argument("--recording-chain", choices=["on", "off"],
                        help="make the weak, unlabelled, validation and eval splits sound recorded (room reverb, "
                             "device, distractor sounds, richer backgrounds; the synthetic split stays clean); "
                             f"default per preset: {chain_defaults}")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, value parsed as YAML, e.g. --set recording_chain.rt60=[0.3,0.6] "
                             "(repeatable; the settings are listed in docs/synthetic_data.md)")
    parser.add_argument("--workers", type=_non_negative_int, metavar="N",
                        help="processes (default: 2 for large datasets; the output does not depend on it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _settings(texts: list[str]) -> dict:
    """The ``--set`` overrides as one nested mapping (later ones win)."""
    from jointsed.config import merge, parse_override

    settings: dict = {}
    for text in texts:
        settings = merge(settings, parse_override(text))
    return settings


def run(args: argparse.Namespace) -> int:
    from jointsed.data.synth import synthesize_dataset

    report = synthesize_dataset(
        args.out,
        preset=args.preset,
        seed=args.seed,
        n_weak=args.n_weak,
        n_synthetic=args.n_synthetic,
        n_unlabelled=args.n_unlabelled,
        n_validation=args.n_validation,
        n_eval=args.n_eval,
        clip_duration=args.clip_duration,
        sample_rate=args.sample_rate,
        ebr_db=tuple(args.ebr) if args.ebr else None,
        recording_chain=None if args.recording_chain is None else args.recording_chain == "on",
        settings=_settings(args.settings),
        stems=args.stems,
        sources=args.sources,
        force=args.force,
        workers=args.workers or None,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 0
