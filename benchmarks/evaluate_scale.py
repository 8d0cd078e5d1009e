"""``jointsed evaluate`` at scale: 1,000 to 10,000 clips of 10 s, every metric, time and peak RSS.

Synthesises, in a temporary folder (never in the repository):

- N clips of ground truth: the bundled DESED validation layout (``src/jointsed/resources/
  validation.tsv``, 1,168 clips) cycled and renamed (``c00042_<original name>``) to reach N;
- their durations (10 s);
- one frame-score file per clip, 20 ms frames (500 x 10), written by
  ``jointsed.evaluate.write_frame_scores`` as ``jointsed predict --scores`` writes them: float32
  probabilities of a made-up network (``--score-model plausible``: a sigmoid of smooth noise,
  raised on the clip's true events, plus per-frame jitter, so nearly every frame has its own
  value, as raw network outputs do; ``uniform``: independent U(0, 1) per frame, the worst case
  for the threshold-free metrics, every frame a local extremum);
- the detection table those scores give at 0.5 (runs of frames > 0.5).

Then times the real command in a fresh process, for each N and each input set:

- ``scores``: ``jointsed evaluate GT --durations D --scores DIR`` (every metric from the frame
  scores: event/segment/intersection/tagging F1 at 0.5, PSDS1, PSDS2);
- ``predictions+scores``: ``... --predictions TSV --scores DIR`` (the F-scores from the detection
  table with sed_eval / psds_eval, PSDS1/PSDS2 from the scores).

Wall seconds, peak RSS of the command (``os.wait4`` of the child: its own high-water mark,
children included if it had any) and the per-metric seconds the command reports (``--json``).
``--src DIR`` times another copy of the package (``git archive HEAD src | tar -x -C /tmp/old``,
then ``--src /tmp/old/src``) for before/after figures. Prints a table and saves JSON with
provenance to ``benchmarks/results/evaluate_scale.json``.

    python benchmarks/evaluate_scale.py                          # N = 1000 2000 5000 10000
    python benchmarks/evaluate_scale.py --clips 1000 --inputs scores --out /tmp/e.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate import write_frame_scores
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance  # benchmarks/provenance.py (this folder is on sys.path)

REPO = Path(__file__).resolve().parents[1]
LAYOUT = REPO / "src" / "jointsed" / "resources" / "validation.tsv"
RESULTS = REPO / "benchmarks" / "results" / "evaluate_scale.json"
HOP, FRAMES, DURATION = 0.02, 500, 10.0
INPUTS = ("scores", "predictions+scores")
# the CLI in a fresh interpreter (so that --src's PYTHONPATH decides which jointsed is imported)
RUN_CLI = ("import sys, jointsed; from jointsed.cli import main; "
           "print('JOINTSED_FILE', jointsed.__file__, file=sys.stderr); sys.exit(main(sys.argv[1:]))")


def layouts() -> list[tuple[str, list[tuple[float, float, str]]]]:
    """The validation clips in file order, each with its events (``[]`` for an empty clip)."""
    table = pd.read_csv(LAYOUT, sep="\t")
    clips: dict[str, list[tuple[float, float, str]]] = {}
    for name, onset, offset, label in table.itertuples(index=False, name=None):
        events = clips.setdefault(name, [])
        if isinstance(label, str):
            events.append((float(onset), float(offset), label))
    return list(clips.items())


def clip_scores(events: list[tuple[float, float, str]], rng: np.random.Generator, model: str) -> np.ndarray:
    """(500, 10) float32 probabilities of one clip."""
    if model == "uniform":
        return rng.uniform(0, 1, (FRAMES, len(DESED_CLASSES))).astype(np.float32)
    # smooth latent (1-s moving average of white noise, std 1) around -4, + 4 to 7 on the true
    # events (edges blurred by 0.1 s), + per-frame jitter: PSDS1 ~0.55, PSDS2 ~0.85 on 200 clips
    noise = np.cumsum(rng.normal(0, 1.0, (FRAMES + 50, len(DESED_CLASSES))), axis=0)
    latent = (noise[50:] - noise[:-50]) / np.sqrt(50) - 4.0 + rng.normal(0, 0.15, (FRAMES, len(DESED_CLASSES)))
    for onset, offset, label in events:
        c = DESED_CLASSES.index(label)
        shift = rng.normal(0, 0.1, 2)
        a = int(np.clip((onset + shift[0]) / HOP, 0, FRAMES - 1))
        b = int(np.clip(np.ceil((offset + shift[1]) / HOP), a + 1, FRAMES))
        latent[a:b, c] += rng.uniform(4.0, 7.0)
    return (1 / (1 + np.exp(-latent))).astype(np.float32)


def detections(name: str, scores: np.ndarray) -> list[Event]:
    """Runs of frames > 0.5 as events (the detection table of the 0.5 operating point)."""
    out = []
    for c, label in enumerate(DESED_CLASSES):
        active = np.concatenate([[False], scores[:, c] > 0.5, [False]])
        edges = np.flatnonzero(np.diff(active.astype(np.int8)))
        out += [Event(name, round(a * HOP, 6), round(b * HOP, 6), label) for a, b in zip(edges[::2], edges[1::2])]
    return out


def synthesise(folder: Path, n: int, model: str, seed: int = 0) -> None:
    """The N-clip data set in ``folder``: gt.tsv, durations.tsv, scores/, predictions.tsv."""
    rng = np.random.default_rng(seed)
    base = layouts()
    truth, empty, predicted, durations = [], [], [], {}
    scores_dir = folder / "scores"
    batch: dict[str, np.ndarray] = {}
    for i in range(n):
        original, events = base[i % len(base)]
        name = f"c{i:05d}_{original}"
        durations[name] = DURATION
        truth += [Event(name, on, off, label) for on, off, label in events]
        if not events:
            empty.append(name)
        batch[name] = clip_scores(events, rng, model)
        predicted += detections(name, batch[name])
    # one atomic folder written by the writer jointsed predict uses
    write_frame_scores(scores_dir, batch, HOP, DESED_CLASSES)
    write_strong_tsv(folder / "gt.tsv", truth, empty_files=empty)
    write_durations_tsv(folder / "durations.tsv", durations)
    names_with_events = {e.filename for e in predicted}
    write_strong_tsv(folder / "predictions.tsv", predicted,
                     empty_files=[k for k in durations if k not in names_with_events])


def subset(source: Path, folder: Path, n: int) -> None:
    """The first ``n`` clips of a synthesised set (score files hard-linked, not rewritten)."""
    folder.mkdir(parents=True)
    gt = pd.read_csv(source / "gt.tsv", sep="\t", keep_default_na=False, dtype=str)
    names = list(dict.fromkeys(gt.filename))[:n]
    keep = set(names)
    gt[gt.filename.isin(keep)].to_csv(folder / "gt.tsv", sep="\t", index=False)
    for table in ("durations.tsv", "predictions.tsv"):
        frame = pd.read_csv(source / table, sep="\t", keep_default_na=False, dtype=str)
        frame[frame.filename.isin(keep)].to_csv(folder / table, sep="\t", index=False)
    (folder / "scores").mkdir()
    for name in names:
        stem = name[: -len(".wav")]
        src, dst = source / "scores" / f"{stem}.tsv", folder / "scores" / f"{stem}.tsv"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def run_evaluate(folder: Path, inputs: str, src: Path | None) -> dict:
    """One ``jointsed evaluate`` in a fresh process: wall seconds, peak RSS, its ``seconds``."""
    out = folder / f"results_{inputs.replace('+', '_')}.json"
    args = [str(folder / "gt.tsv"), "--durations", str(folder / "durations.tsv"), "--scores", str(folder / "scores")]
    if inputs == "predictions+scores":
        args += ["--predictions", str(folder / "predictions.tsv")]
    cmd = [sys.executable, "-c", RUN_CLI, "evaluate", *args, "--json", str(out)]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    load = os.getloadavg()[0]
    with open(folder / "stdout.txt", "w") as stdout, open(folder / "stderr.txt", "w") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr)
        # wait4: this child's own resource usage (getrusage(RUSAGE_CHILDREN) keeps the maximum
        # over every child so far, so a smaller later run would report the larger one's peak)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    err = (folder / "stderr.txt").read_text()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    results = json.loads(out.read_text())
    package = next((line.split(" ", 1)[1] for line in err.splitlines() if line.startswith("JOINTSED_FILE")), None)
    metrics = {k: results[k]["macro_f1"] for k in ("event_based", "segment_based", "tagging", "intersection")}
    metrics.update({k: results[k]["value"] for k in ("psds1", "psds2")})
    return {
        "seconds": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "load_1min_at_start": load,
        "seconds_by_step": results.get("seconds", {}),
        "metrics": metrics,
        "package": package,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    parser.add_argument("--inputs", nargs="+", choices=INPUTS, default=list(INPUTS))
    parser.add_argument("--score-model", choices=("plausible", "uniform"), default="plausible")
    parser.add_argument("--src", type=Path, help="time the jointsed package under this folder (PYTHONPATH)")
    parser.add_argument("--work", type=Path,
                        help="keep the synthesised data here and reuse it (default: a temporary folder, removed)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.clips):
        parser.error("--clips must be positive")
    load_before = os.getloadavg()
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="evaluate_scale_")
    work = args.work or Path(tmp.name)
    try:
        full = work / f"{args.score_model}_{max(args.clips)}"
        if not (full / "predictions.tsv").is_file():
            if full.exists():
                shutil.rmtree(full)
            full.mkdir(parents=True)
            start = time.perf_counter()
            synthesise(full, max(args.clips), args.score_model)
            print(f"synthesised {max(args.clips)} clips in {time.perf_counter() - start:.0f} s ({full})", flush=True)
        rows = []
        for n in sorted(args.clips):
            folder = full if n == max(args.clips) else work / f"{args.score_model}_{max(args.clips)}_first{n}"
            if not folder.exists():
                subset(full, folder, n)
            for inputs in args.inputs:
                row = {"clips": n, "inputs": inputs, **run_evaluate(folder, inputs, args.src)}
                rows.append(row)
                steps = ", ".join(f"{k} {v:.1f}" for k, v in row["seconds_by_step"].items())
                print(f"{n:>6} clips  {inputs:<19} {row['seconds']:>7.1f} s  {row['peak_rss_mb']:>7.0f} MB   [{steps}]",
                      flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()

    print(f"\n{'clips':>6}  {'inputs':<19}{'seconds':>9}{'peak RSS MB':>13}  PSDS1   PSDS2")
    for row in rows:
        print(f"{row['clips']:>6}  {row['inputs']:<19}{row['seconds']:>9.1f}{row['peak_rss_mb']:>13.0f}  "
              f"{row['metrics']['psds1']:.4f}  {row['metrics']['psds2']:.4f}")
    atomic_write_json(args.out, {
        "benchmark": "evaluate_scale",
        **provenance(load_before, [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]),
        "score_model": args.score_model,
        "src": str(args.src) if args.src else None,
        "frames_per_clip": FRAMES, "frame_hop": HOP, "classes": len(DESED_CLASSES),
        "runs": rows,
    })
    print(f"\nsaved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
