"""``jointsed import-labels``: labels in other formats to DESED's strong (and weak) tables.

::

    jointsed import-labels labels.csv --columns file,start,end,label --strong strong.tsv --weak weak.tsv
    jointsed import-labels audacity_labels/ --format audacity --audio-extension .flac --strong strong.tsv
    jointsed import-labels rec1.Table.1.selections.txt --format raven --strong strong.tsv

The format is guessed from the input unless given: ``.csv``/``.tsv`` is a table, a ``.txt``
with a ``Begin Time (s)`` column a Raven selection table, another ``.txt`` an Audacity label
track. A folder stands for its ``.txt`` files (label tracks, selection tables) or its
``.csv``/``.tsv`` files (tables). The formats: :mod:`jointsed.data.label_import`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Convert labels (CSV with other columns, Audacity label tracks, Raven tables) to DESED's strong/weak tsv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="label files, or folders of them")
    parser.add_argument("--format", choices=("table", "audacity", "raven"),
                        help="the inputs' format (default: guessed from the first file)")
    parser.add_argument("--columns", default="filename,onset,offset,event_label", metavar="FILE,ON,OFF,LABEL",
                        help="table: the names of the file, onset, offset and label columns "
                             "(default: DESED's filename,onset,offset,event_label)")
    parser.add_argument("--label-column", metavar="NAME",
                        help="raven: the label column (default: the first of Annotation, Label, Species, Class)")
    parser.add_argument("--audio-extension", default=".wav", metavar="EXT",
                        help="audacity, raven: the audio file of LABELS.txt is LABELS + EXT (default .wav)")
    parser.add_argument("--classes", metavar="A,B,C|FILE",
                        help="refuse labels outside this class list (a,b,c or a file of one class per line)")
    parser.add_argument("--audio", type=Path, metavar="DIR",
                        help="check that every labelled file is in this audio folder (paths relative to it)")
    parser.add_argument("--strong", type=Path, required=True, metavar="OUT.tsv", help="strong-label tsv to write")
    parser.add_argument("--weak", type=Path, metavar="OUT.tsv", help="also write the weak-label tsv derived from it")
    parser.add_argument("--force", action="store_true", help="replace existing output files")


def _expand(inputs: list[Path], fmt: str | None) -> list[Path]:
    from jointsed.data.annotations import AnnotationError

    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            suffixes = {"table": (".csv", ".tsv"), "audacity": (".txt",), "raven": (".txt",)}.get(
                fmt or "", (".txt", ".csv", ".tsv"))
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and p.is_file())
            if not found:
                raise AnnotationError(f"{path}: no {' or '.join(suffixes)} label files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise AnnotationError(f"{path}: file not found")
    return files


def _guess_format(path: Path) -> str:
    if path.suffix.lower() in (".csv", ".tsv"):
        return "table"
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    return "raven" if "Begin Time (s)" in first else "audacity"


def run(args: argparse.Namespace) -> int:
    from jointsed.data import label_import
    from jointsed.data.annotations import AnnotationError, StrongAnnotations
    from jointsed.data.classes import parse_classes
    from jointsed.utils.outputs import OutputError, check_output_file

    files = _expand(args.inputs, args.format)
    for out, flag in ((args.strong, "--strong"), (args.weak, "--weak")):
        if out is None:
            continue
        check_output_file(out, files, flag=flag)
        if out.exists() and not args.force:
            raise OutputError(f"{flag} {out}: exists; give --force to replace it")
    if args.weak is not None and args.weak.resolve() == args.strong.resolve():
        raise OutputError(f"--weak {args.weak}: the same file as --strong")
    fmt = args.format or _guess_format(files[0])
    mixed = sorted({_guess_format(f) for f in files} - {fmt}) if args.format is None else []
    if mixed:  # one format per call: a folder of label tracks with a stray table is a mistake
        other = next(f for f in files if _guess_format(f) != fmt)
        raise AnnotationError(f"{other}: looks like a {mixed[0]} file, {files[0]} like a {fmt} file; "
                              "convert one format per call (or give --format)")
    classes = parse_classes(args.classes) if args.classes else None
    if fmt == "table":
        parts = [label_import.read_table(f, args.columns, classes=classes) for f in files]
        events = [e for p in parts for e in p.events]
        names = list(dict.fromkeys(n for p in parts for n in p.filenames))
        annotations = StrongAnnotations(path=None, events=events, filenames=names)
    elif fmt == "audacity":
        annotations = label_import.read_audacity(files, audio_extension=args.audio_extension, classes=classes)
    else:
        annotations = label_import.read_raven(files, label_column=args.label_column,
                                              audio_extension=args.audio_extension, classes=classes)
    if not annotations.filenames:
        raise AnnotationError(f"{files[0]}: no labels found")
    if args.audio is not None:
        from jointsed.data.audio_files import check_audio_files

        check_audio_files(annotations.filenames, args.audio, files[0] if len(files) == 1 else args.inputs[0])
    label_import.write_labels(annotations, args.strong, args.weak)
    labels = sorted({e.event_label for e in annotations.events})
    empty = sum(1 for events in annotations.by_file().values() if not events)
    print(f"{len(annotations.events)} event(s) of {len(labels)} class(es) ({', '.join(labels)}) in "
          f"{len(annotations.filenames)} clip(s) ({empty} without events), from {len(files)} {fmt} file(s)")
    print(f"strong labels written to {args.strong}" + (f", weak labels to {args.weak}" if args.weak else ""))
    return 0
