"""``jointsed features``: compute the log-mel features of audio files into the on-disk cache.

    jointsed features ROOT/audio --cache cache/features [--config recipe.yaml] [--workers 2]

Folders are searched recursively for audio files; files named on the command line are used as
they are. Unusable audio files are listed by name and skipped (``--on-error skip``, the default:
the other files are cached and the exit status is 1, so that scripts notice) or stop the run with
exit status 2 (``--on-error fail``). Files longer than the clip are cropped to it (a warning names
them: the cache holds fixed-length training clips; ``jointsed predict`` handles long recordings).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from jointsed.config import ConfigError, from_dict, load_yaml
from jointsed.errors import JointsedError
from jointsed.data.audio_files import AUDIO_EXTENSIONS, list_audio_files

# jointsed.audio (torch) is imported inside the functions: `jointsed --help` stays fast.
if TYPE_CHECKING:
    from jointsed.audio.features import FeatureConfig

HELP = "Compute log-mel features of audio files into an on-disk cache (parallel, incremental)."

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="AUDIO_DIR_OR_FILES",
                        help="audio files and/or folders (searched recursively)")
    parser.add_argument("--cache", required=True, type=Path, metavar="DIR", help="cache folder")
    parser.add_argument("--config", type=Path, metavar="YAML",
                        help="front-end settings: a YAML file with a 'features:' section (e.g. a recipe) "
                             "or with FeatureConfig keys at the top level (default: 16 kHz, 64 mels, 20 ms)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: number of CPUs; 1: in this process)")
    parser.add_argument("--on-error", choices=("skip", "fail"), default="skip",
                        help="unusable audio files: list and skip them (default; exit status 1) or stop (exit 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_feature_config(path: Path | None) -> FeatureConfig:
    """FeatureConfig from a YAML file's ``features`` section (or its top level); defaults if None."""
    from jointsed.audio.features import FeatureConfig

    if path is None:
        return FeatureConfig()
    data = load_yaml(path)
    if "base" in data:  # a recipe that inherits: resolve it the way `jointsed train` does
        from jointsed.training.config import load_recipe_dict

        data = load_recipe_dict(path)
    section, where = (data["features"], "features") if isinstance(data.get("features"), dict) else (data, "")
    try:
        return from_dict(FeatureConfig, section, where)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def collect_audio_files(inputs: list[str]) -> list[Path]:
    """Files as given plus audio files found under folders (sorted, hidden files skipped)."""
    paths: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = list_audio_files(p, recursive=True)
            if not found:
                raise JointsedError(f"{p}: no audio files ({', '.join(AUDIO_EXTENSIONS[:3])}, ...) in this folder")
            paths.extend(found)
        elif p.exists():
            paths.append(p)
        else:
            raise JointsedError(f"{p}: no such file or folder")
    return paths


def run(args: argparse.Namespace) -> int:
    from jointsed.audio.cache import FeatureCache

    config = load_feature_config(args.config)
    paths = collect_audio_files(args.inputs)
    if args.workers is not None and args.workers < 0:
        raise JointsedError(f"--workers must be >= 0, got {args.workers}")
    cache = FeatureCache(args.cache, config)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    print(f"{len(paths)} audio file(s); cache {cache.folder} ({config.n_frames()} frames x {config.n_mels} mels, "
          f"{workers} worker(s))")
    report = cache.build(paths, workers=workers, on_error=args.on_error, progress=not args.no_progress)
    print(report.summary())
    return 1 if report.failed else 0  # skipped files: the cache is incomplete, say so to scripts too
