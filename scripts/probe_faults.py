"""Probe of issue 22's classes: faults, signals, concurrency, evaluation inputs, data, sizes and
writes outside the data and output folders, tried through the CLI as a careless or hostile user
would, on a tiny synthetic dataset.

    python scripts/probe_faults.py --work /tmp/probe [--classes signals,evaluation,...]

Each case runs ``python -m jointsed ...`` and is classified as one of:

- ``clear error``: refused, non-zero exit, a ``jointsed CMD: ...`` line saying what (no traceback);
- ``correct``: accepted, and the result checked (a warning printed where one is due);
- ``traceback``: a Python traceback;
- ``silent wrong``: accepted without the refusal or warning due, or a wrong result;
- ``outside write``: wrote outside the data and output folders without saying so;
- ``data lost``: removed or damaged what was there.

Prints one table per class and the totals; saves every case (command, exit code, stderr tail,
outcome) to WORK/probe.json. Needs a few minutes of CPU (about a dozen tiny trainings).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

OUTCOMES = ("clear error", "correct", "traceback", "silent wrong", "outside write", "data lost")
RECIPE = "cpu/gl_baseline"
TINY = ["trainer.num_threads=1", "trainer.progress_bar=false", "model.teacher.width=0.25",
        "model.student.channels=[8,8,8]", "batch.batch_size=6", "validation.event_f1=false",
        "data.max_clips_per_set=6", "model.teacher.bn_momentum=0.1", "model.student.bn_momentum=0.1"]


@dataclass
class Case:
    klass: str
    name: str
    outcome: str = ""
    detail: str = ""
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Probe:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.cases: list[Case] = []
        self.case: Optional[Case] = None
        self.env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200")
        self.env.pop("JOINTSED_RUN_DIR", None)

    # ----- running ----------------------------------------------------------------------------
    def popen(self, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "jointsed", *args]
        self.case.commands.append(" ".join(cmd[2:]))
        # a job started in the background of a script inherits SIGINT ignored (and Python then
        # installs no KeyboardInterrupt): give each command the default, as a terminal would
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def jointsed(self, *args: str, timeout: float = 900) -> tuple[int, str, str]:
        proc = self.popen(*args)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return -9, out, err + "\n[probe: timed out]"
        return proc.returncode, out, err

    def train(self, data: Path, out: Path, *sets: str, extra: tuple[str, ...] = ()) -> tuple[int, str, str]:
        return self.jointsed("train", RECIPE, "--data-root", str(data), "--out", str(out), "--no-progress",
                             *extra, *[f"--set={s}" for s in (*TINY, *sets)])

    # ----- judging ----------------------------------------------------------------------------
    @staticmethod
    def refused(rc: int, err: str, words: str) -> tuple[str, str]:
        """A case that must be refused with ``words`` in a one-line message."""
        last = err.strip().splitlines()[-1] if err.strip() else ""
        if "Traceback" in err:
            return "traceback", last[:300]
        if rc == 0:
            return "silent wrong", f"accepted (exit 0): {last[:300]}"
        if words.lower() not in err.lower():
            return "silent wrong", f"exit {rc} without {words!r}: {last[:300]}"
        return "clear error", next(line for line in err.splitlines() if words.lower() in line.lower())[:300]

    @staticmethod
    def accepted(rc: int, err: str, warning: str = "", check: Callable[[], str] | None = None) -> tuple[str, str]:
        """A case that must succeed (with ``warning`` on stderr, and ``check`` returning '')."""
        if "Traceback" in err:
            return "traceback", err.strip().splitlines()[-1][:300]
        if rc != 0:
            return "silent wrong", f"exit {rc}: {err.strip().splitlines()[-1][:300] if err.strip() else ''}"
        if warning and warning.lower() not in err.lower():
            return "silent wrong", f"no warning {warning!r}"
        problem = check() if check else ""
        if problem:
            return problem.split(":", 1)[0] if problem.split(":", 1)[0] in OUTCOMES else "silent wrong", problem
        line = next((line for line in err.splitlines() if warning and warning.lower() in line.lower()), "")
        return "correct", line[:300]

    def run_case(self, klass: str, name: str, body: Callable[[], tuple[str, str]]) -> None:
        self.case = Case(klass, name)
        started = time.perf_counter()
        try:
            self.case.outcome, self.case.detail = body()
        except Exception as exc:  # the probe's own failure: counted, never hidden
            self.case.outcome, self.case.detail = "traceback", f"probe: {type(exc).__name__}: {exc}"
        self.case.seconds = round(time.perf_counter() - started, 1)
        self.cases.append(self.case)
        print(f"[{klass}] {name}: {self.case.outcome} ({self.case.seconds:.0f} s) {self.case.detail[:160]}",
              flush=True)


# ----- fixtures -------------------------------------------------------------------------------------
def make_data(probe: Probe) -> Path:
    data = probe.work / "data"
    if not (data / "metadata").is_dir():
        probe.case = Case("setup", "data")
        rc, _, err = probe.jointsed("synth", "--preset", "tiny", "--out", str(data), "--no-progress",
                                    "--workers", "1")
        if rc != 0:
            raise SystemExit(f"jointsed synth failed: {err[-2000:]}")
    return data


def copy_data(data: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(data, dest, ignore=shutil.ignore_patterns(".jointsed_cache"))
    return dest


def base_run(probe: Probe, data: Path) -> Path:
    run = probe.work / "base_run"
    if not (run / "finished.json").is_file():
        case, probe.case = probe.case, Case("setup", "base run")  # its commands are not the case's
        shutil.rmtree(run, ignore_errors=True)
        rc, _, err = probe.train(data, run, "trainer.max_epochs=2")
        probe.case = case
        if rc != 0:
            raise SystemExit(f"base training failed: {err[-2000:]}")
    return run


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def signal_during_train(probe: Probe, data: Path, out: Path, signum: int) -> tuple[int, str, str]:
    shutil.rmtree(out, ignore_errors=True)
    proc = probe.popen("train", RECIPE, "--data-root", str(data), "--out", str(out), "--no-progress",
                       *[f"--set={s}" for s in (*TINY, "trainer.max_epochs=50")])
    deadline = time.monotonic() + 900
    while not (out / "checkpoints" / "last.ckpt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        proc.send_signal(signum)
    out_text, err = proc.communicate(timeout=600)
    return proc.returncode, out_text, err


# ----- classes ----------------------------------------------------------------------------------------
def signals_class(probe: Probe, data: Path) -> None:
    k = "signals"
    stopped = probe.work / "sigterm_run"

    def sigterm():
        rc, _, err = signal_during_train(probe, data, stopped, signal.SIGTERM)
        if rc != 143:
            return ("traceback" if "Traceback" in err else "silent wrong"), f"exit {rc}: {err.strip()[-300:]}"
        if (stopped / "finished.json").exists():
            return "silent wrong", "finished.json written"
        return probe.refused(rc, err, "--resume")

    def sigint():
        rc, _, err = signal_during_train(probe, data, probe.work / "sigint_run", signal.SIGINT)
        if rc != 130:
            return ("traceback" if "Traceback" in err else "silent wrong"), f"exit {rc}: {err.strip()[-300:]}"
        return probe.refused(rc, err, "interrupted by SIGINT")

    probe.run_case(k, "kill -TERM during train: 143, where and how to resume", sigterm)
    probe.run_case(k, "kill -INT during train: 130", sigint)
    probe.run_case(k, "tune on the stopped run", lambda: probe.refused(
        *probe.jointsed("tune", str(stopped), "--data-root", str(data), "--no-progress")[::2], "--allow-unfinished"))
    probe.run_case(k, "evaluate --run on the stopped run", lambda: probe.refused(
        *probe.jointsed("evaluate", "--run", str(stopped), "--data-root", str(data), "--no-progress")[::2],
        "--allow-unfinished"))
    clip = next((data / "audio" / "validation").glob("*.wav"))
    probe.run_case(k, "predict with the stopped run's model: a warning", lambda: probe.accepted(
        *probe.jointsed("predict", str(stopped), str(clip), "--out", str(probe.work / "stopped.tsv"),
                        "--no-progress")[::2], warning="unfinished training run"))

    def resume():
        rc, _, err = probe.train(data, stopped, "trainer.max_epochs=50", extra=("--resume", "--set=trainer.max_epochs=3"))
        return probe.accepted(rc, err, check=lambda: "" if (stopped / "finished.json").is_file() else "no finished.json")

    probe.run_case(k, "--resume finishes the stopped run", resume)

    def concurrent():
        out = probe.work / "concurrent"
        shutil.rmtree(out, ignore_errors=True)
        procs = [probe.popen("train", RECIPE, "--data-root", str(data), "--out", str(out), "--no-progress",
                             *[f"--set={s}" for s in (*TINY, "trainer.max_epochs=2", f"seed={seed}")])
                 for seed in (7, 8)]
        results = [(p.wait(timeout=900), p.communicate()[1]) for p in procs]
        codes = sorted(rc for rc, _ in results)
        if any("Traceback" in err for _, err in results):
            return "traceback", "; ".join(err.strip()[-200:] for _, err in results)
        if codes != [0, 2]:
            return "silent wrong", f"exit codes {codes}: no lock"
        loser = next(err for rc, err in results if rc == 2)
        winner_seed = (7, 8)[[rc for rc, _ in results].index(0)]
        import yaml

        seed = yaml.safe_load((out / "config.yaml").read_text())["seed"]
        if seed != winner_seed or not (out / "finished.json").is_file():
            return "silent wrong", f"mixed folder: config seed {seed}, the finished run's {winner_seed}"
        return probe.refused(2, loser, "is being trained by")

    probe.run_case(k, "two trains on one --out: one refused, naming the holder", concurrent)

    def killed():
        out = probe.work / "killed"
        rc, _, _ = signal_during_train(probe, data, out, signal.SIGKILL)
        rc, _, err = probe.train(data, out, "trainer.max_epochs=2", extra=("--resume",))
        return probe.accepted(rc, err, warning="took over the lock",
                              check=lambda: "" if (out / "finished.json").is_file() else "no finished.json")

    probe.run_case(k, "kill -9 then --resume: the dead holder's lock is taken over", killed)

    def other_data():
        run = probe.work / "resume_other"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base_run(probe, data), run)
        other = copy_data(data, probe.work / "other_data")
        weak = (other / "metadata/train/weak.tsv").read_text().splitlines()
        (other / "metadata/train/weak.tsv").write_text("\n".join([weak[0], *weak[2:]]) + "\n")
        return probe.refused(*probe.train(other, run, "trainer.max_epochs=3", extra=("--resume",))[::2],
                             "trained on other data")

    probe.run_case(k, "--resume on another --data-root", other_data)

    def symlinked_logs():
        run = probe.work / "linked_logs"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base_run(probe, data), run)
        elsewhere = probe.work / "logs_elsewhere"
        shutil.rmtree(elsewhere, ignore_errors=True)
        (run / "logs").rename(elsewhere)
        (run / "logs").symlink_to(elsewhere)
        before = files_under(run) | files_under(elsewhere)
        rc, _, err = probe.train(data, run, "trainer.max_epochs=2", extra=("--force",))
        if files_under(run) | files_under(elsewhere) != before:
            return "data lost", "--force removed files before failing"
        return probe.refused(rc, err, "symbolic link")

    probe.run_case(k, "--force with logs/ a symbolic link", symlinked_logs)

    def passwd_link():
        run = probe.work / "passwd_run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base_run(probe, data), run)
        target = Path("/etc/passwd") if Path("/etc/passwd").is_file() else probe.work / "text.txt"
        if not target.exists():
            target.write_text("root:x:0:0\n")
        (run / "checkpoints" / "best.ckpt").unlink()
        (run / "checkpoints" / "best.ckpt").symlink_to(target)
        return probe.refused(*probe.jointsed("predict", str(run), str(clip), "--out", str(probe.work / "pw.tsv"),
                                             "--no-progress")[::2], "not a checkpoint")

    probe.run_case(k, "best.ckpt -> /etc/passwd", passwd_link)

    disk = probe.work / "small_disk"
    disk.mkdir(exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)],
                                                    capture_output=True).returncode == 0
    if not mounted:
        print("[signals] full-disk cases skipped: cannot mount a small tmpfs here", flush=True)
        return
    try:
        def full(args_for: Callable[[Path], list[str]], fill: int, leftovers_ok: set[str]) -> tuple[str, str]:
            for p in disk.iterdir():
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            if fill:
                (disk / "filler").write_bytes(b"\0" * fill)
            rc, _, err = probe.jointsed(*args_for(disk))
            left = {p.name for p in disk.iterdir()} - {"filler"} - leftovers_ok
            outcome = probe.refused(rc, err, "the disk is full")
            if outcome[0] == "clear error" and str(disk) not in outcome[1]:
                return "silent wrong", f"no path: {outcome[1]}"
            if outcome[0] == "clear error" and left:
                return "silent wrong", f"left behind: {sorted(left)}"
            return outcome

        probe.run_case(k, "full disk: synth", lambda: full(
            lambda d: ["synth", "--preset", "tiny", "--out", str(d / "ds"), "--no-progress", "--workers", "1"], 0,
            set()))
        probe.run_case(k, "full disk: features", lambda: full(
            lambda d: ["features", str(data / "audio" / "validation"), "--cache", str(d / "cache"), "--workers", "1",
                       "--no-progress"], 3 * 1024 * 1024 - 200 * 1024, {"cache"}))
        probe.run_case(k, "full disk: predict (no table left)", lambda: full(
            lambda d: ["predict", str(base_run(probe, data)), str(data / "audio" / "validation"), "--out",
                       str(d / "p.tsv"), "--scores", str(d / "scores"), "--no-progress"],
            3 * 1024 * 1024 - 40 * 1024, set()))
        probe.run_case(k, "full disk: train", lambda: full(
            lambda d: ["train", RECIPE, "--data-root", str(data), "--out", str(d / "run"), "--no-progress",
                       *[f"--set={s}" for s in (*TINY, "trainer.max_epochs=1")]], 3 * 1024 * 1024 - 300 * 1024,
            {"run"}))
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def evaluation_class(probe: Probe, data: Path) -> None:
    k = "evaluation"
    run = base_run(probe, data)
    gt = data / "metadata/validation/validation.tsv"
    durations = data / "metadata/validation/validation_durations.tsv"
    scores, preds = probe.work / "eval_scores", probe.work / "eval_pred.tsv"
    if not scores.is_dir():
        probe.case = Case("setup", "scores")
        rc, _, err = probe.jointsed("predict", str(run), str(data / "audio/validation"), "--out", str(preds),
                                    "--scores", str(scores), "--no-progress", "--force")
        if rc != 0:
            raise SystemExit(f"predict failed: {err[-2000:]}")

    def damaged_scores(edit: Callable[[Path], None], words: str) -> tuple[str, str]:
        copy = probe.work / "eval_scores_damaged"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(scores, copy)
        edit(next(p for p in sorted(copy.glob("*.tsv"))))
        return probe.refused(*probe.jointsed("evaluate", str(gt), "--durations", str(durations), "--scores",
                                             str(copy))[::2], words)

    def cut(path: Path) -> None:
        lines = path.read_text().splitlines()
        half = lines[: len(lines) // 2]
        half[-1] = "\t".join(half[-1].split("\t")[:5])
        path.write_text("\n".join(half) + "\n")

    def nan(path: Path) -> None:
        lines = path.read_text().splitlines()
        lines[3] = lines[3].rsplit("\t", 1)[0] + "\tnan"
        path.write_text("\n".join(lines) + "\n")

    probe.run_case(k, "frame-score file cut in half", lambda: damaged_scores(cut, "tab-separated fields"))
    probe.run_case(k, "a NaN score", lambda: damaged_scores(nan, "not a number"))

    def short_durations():
        table = probe.work / "short_durations.tsv"
        lines = durations.read_text().splitlines()
        table.write_text("\n".join([lines[0], *[f"{line.split(chr(9))[0]}\t0.5" for line in lines[1:]]]) + "\n")
        return probe.refused(*probe.jointsed("evaluate", str(gt), "--durations", str(table), "--scores",
                                             str(scores))[::2], "after the end of their clip")

    probe.run_case(k, "durations of 0.5 s for 10-s clips", short_durations)

    def late_predictions():
        late = probe.work / "late_pred.tsv"
        lines = gt.read_text().splitlines()
        rows = [line.split("\t") for line in lines[1:] if line.split("\t")[1]]
        late.write_text("\n".join([lines[0], *[f"{r[0]}\t{float(r[1]) + 20}\t{float(r[2]) + 25}\t{r[3]}"
                                              for r in rows]]) + "\n")
        return probe.refused(*probe.jointsed("evaluate", str(gt), "--durations", str(durations), "--predictions",
                                             str(late))[::2], "end after")

    probe.run_case(k, "predictions past the clip's end", late_predictions)

    def threshold_seven():
        ops = probe.work / "ops"
        shutil.rmtree(ops, ignore_errors=True)
        ops.mkdir()
        shutil.copy(preds, ops / "p_0.5.tsv")
        shutil.copy(preds, ops / "p_7.tsv")
        return probe.refused(*probe.jointsed("evaluate", str(gt), "--durations", str(durations),
                                             "--operating-points", str(ops))[::2], "threshold 7")

    probe.run_case(k, "an operating-points folder with threshold 7", threshold_seven)

    def replaced_audio():
        import numpy as np
        import soundfile as sf

        own = copy_data(data, probe.work / "replaced_data")
        copy = probe.work / "replaced_run"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run, copy)
        shutil.rmtree(copy / "scores", ignore_errors=True)
        args = ("evaluate", "--run", str(copy), "--data-root", str(own), "--no-progress")
        rc, out, err = probe.jointsed(*args)
        if rc != 0:
            return probe.accepted(rc, err)
        for wav in sorted((own / "audio/validation").glob("*.wav")):
            x, rate = sf.read(wav, dtype="float32")
            sf.write(wav, np.zeros_like(x), rate)
        rc, out, err = probe.jointsed(*args)
        return probe.accepted(rc, err, check=lambda: "silent wrong: stale scores reused"
                              if "reused from" in out + err else "")

    probe.run_case(k, "validation audio replaced under the same names: scored again", replaced_audio)


def data_class(probe: Probe, data: Path) -> None:
    k = "data"
    import numpy as np
    import soundfile as sf

    def short_wav():
        own = copy_data(data, probe.work / "short_wav_data")
        rows = [line.split("\t") for line in (own / "metadata/train/synthetic.tsv").read_text().splitlines()[1:]]
        name = next(r[0] for r in rows if r[1] and float(r[1]) > 1.0)
        sf.write(own / "audio/train/synthetic" / name, np.zeros(8000, np.float32), 16000)
        return probe.refused(*probe.train(own, probe.work / "short_wav_run", "trainer.max_epochs=1")[::2],
                             "start after the end of their clip")

    probe.run_case(k, "a 0.5-s synthetic wav labelled to 10 s", short_wav)

    def leak(kind: str):
        own = copy_data(data, probe.work / f"leak_{kind}")
        if kind == "validation":
            clip = sorted((own / "audio/validation").glob("*.wav"))[0]
            shutil.copy(clip, own / "audio/train/synthetic" / clip.name)
            tsv = own / "metadata/train/synthetic.tsv"
            lines = tsv.read_text().splitlines()
            label = lines[1].split("\t")[3] or "Speech"
            tsv.write_text("\n".join([lines[0], f"{clip.name}\t0.0\t1.0\t{label}", *lines[1:]]) + "\n")
            words = "of the validation set are also in the synthetic set"
        else:
            clip = sorted((own / "audio/train/synthetic").glob("*.wav"))[0]
            shutil.copy(clip, own / "audio/train/weak" / clip.name)
            tsv = own / "metadata/train/weak.tsv"
            lines = tsv.read_text().splitlines()
            tsv.write_text("\n".join([lines[0], f"{clip.name}\tSpeech", *lines[1:]]) + "\n")
            words = "of the weak set are also in the synthetic set"
        return probe.accepted(*probe.train(own, probe.work / f"leak_{kind}_run", "trainer.max_epochs=1")[::2],
                              warning=words)

    probe.run_case(k, "a validation clip also in synthetic.tsv: a warning", lambda: leak("validation"))
    probe.run_case(k, "a clip weak and synthetic at once: a warning", lambda: leak("weak"))

    def one_hz():
        wav = probe.work / "one_hz.wav"
        sf.write(wav, np.zeros(10, np.float32), 1)
        return probe.refused(*probe.jointsed("predict", str(base_run(probe, data)), str(wav), "--out",
                                             str(probe.work / "one_hz.tsv"), "--no-progress")[::2], "too low")

    probe.run_case(k, "a 1-Hz wav to predict", one_hz)

    def nan_cache():
        own = copy_data(data, probe.work / "nan_cache_data")
        rc, _, err = probe.train(own, probe.work / "nan_cache_run", "trainer.max_epochs=1")
        if rc != 0:
            return probe.accepted(rc, err)
        entries = sorted((own / ".jointsed_cache").rglob("*.npy"))
        for entry in entries[:2]:
            arr = np.load(entry)
            arr[0, 0] = np.nan
            np.save(entry, arr)
        rc, _, err = probe.train(own, probe.work / "nan_cache_run", "trainer.max_epochs=1", extra=("--force",))
        return probe.accepted(rc, err, warning="feature cache entry holding NaN")

    probe.run_case(k, "NaN in the feature cache: blamed on the cache, recomputed", nan_cache)


def sizes_class(probe: Probe, data: Path) -> None:
    k = "sizes"
    run = base_run(probe, data)
    for override, words in [
        ("batch.composition.synthetic=1000000000", "out of range"),
        ("batch.composition.synthetic=1000000", "out of range"),
        ("mean_teacher.ema_decay=2", "out of range"),
        ("seed=99999999999999999999999", "out of range"),
        ("optimizer.lr=.nan", "out of range"),
        ("optimizer.lr=.inf", "out of range"),
        ("trainer.gradient_clip_val=.nan", "out of range"),
        ("postprocess.median_windows=[1000000000,1,1,1,1,1,1,1,1,1]", "out of range"),
        ("model.student.channels=" + "[" * 3000 + "]" * 3000, "nested more than"),
    ]:
        probe.run_case(k, f"--set {override[:60]}", lambda o=override, w=words: probe.refused(
            *probe.train(data, probe.work / "sizes_run", o)[::2], w))

    deep = probe.work / "deep.yaml"
    deep.write_text(f"base: {RECIPE}\nseed: " + "[" * 3000 + "]" * 3000 + "\n")
    probe.run_case(k, "recipe nested 3,000 levels", lambda: probe.refused(
        *probe.jointsed("train", str(deep), "--data-root", str(data), "--out", str(probe.work / "sizes_run"))[::2],
        "nested more than"))
    probe.run_case(k, "features --config nested 3,000 levels", lambda: probe.refused(
        *probe.jointsed("features", str(data / "audio/validation"), "--cache", str(probe.work / "deep_cache"),
                        "--config", str(deep))[::2], "nested more than"))

    pp = json.loads((run / "postprocess.json").read_text()) if (run / "postprocess.json").is_file() else None

    def postprocess_file(edit: Callable[[dict], object], words: str) -> tuple[str, str]:
        nonlocal pp
        if pp is None:
            rc, _, err = probe.jointsed("tune", str(run), "--data-root", str(data), "--no-progress")
            if rc != 0:
                return probe.accepted(rc, err)
            pp = json.loads((run / "postprocess.json").read_text())
        path = probe.work / "pp.json"
        data_ = json.loads(json.dumps(pp))
        text = edit(data_)
        path.write_text(text if isinstance(text, str) else json.dumps(data_))
        return probe.refused(*probe.jointsed("predict", str(run), str(data / "audio/validation"), "--out",
                                             str(probe.work / "pp.tsv"), "--postprocess", str(path),
                                             "--no-progress")[::2], words)

    def big_window(d: dict) -> None:
        d["median_window"][0] = 10**9

    probe.run_case(k, "postprocess.json median_window 1e9", lambda: postprocess_file(big_window, "out of range"))
    probe.run_case(k, "postprocess.json nested 3,000 levels", lambda: postprocess_file(
        lambda d: "[" * 3000 + "]" * 3000, "nested more than"))

    def grid(text: str) -> tuple[str, str]:
        path = probe.work / "grid.yaml"
        path.write_text(text)
        return probe.refused(*probe.jointsed("tune", str(run), "--data-root", str(data), "--grid", str(path),
                                             "--no-progress")[::2], "more than")

    values = "[" + ", ".join(str(round(0.001 * i, 3)) for i in range(1, 1000)) + "]"
    probe.run_case(k, "tuning grid of 999 x 999 x ... values", lambda: grid(
        f"tag_thresholds: {values}\nframe_thresholds: {values}\nmax_gaps: {values}\n"))
    probe.run_case(k, "tuning grid list of 5,000 values", lambda: grid(
        "tag_thresholds: [" + ", ".join(["0.5"] * 5000) + "]\n"))


def outside_class(probe: Probe, data: Path) -> None:
    k = "outside writes"
    elsewhere = probe.work / "elsewhere"
    shutil.rmtree(elsewhere, ignore_errors=True)

    def relative():
        own = copy_data(data, probe.work / "outside_data" / "a" / "b")
        rel = os.path.relpath(elsewhere, own)
        outcome = probe.refused(*probe.train(own, probe.work / "outside_run", "trainer.max_epochs=1",
                                             f"data.cache_dir={rel}")[::2], "leads out of the data root")
        return ("outside write", f"files in {elsewhere}") if elsewhere.exists() else outcome

    def absolute():
        own = copy_data(data, probe.work / "outside_abs_data")
        rc, out, err = probe.train(own, probe.work / "outside_abs_run", "trainer.max_epochs=1",
                                   f"data.cache_dir={elsewhere}", extra=())
        said = "outside the data root" in out + err
        return probe.accepted(rc, err, check=lambda: "" if said else "outside write: not said")

    probe.run_case(k, "data.cache_dir: ../../elsewhere", relative)
    probe.run_case(k, "an absolute data.cache_dir: allowed, and said", absolute)


CLASSES = {"signals": signals_class, "evaluation": evaluation_class, "data": data_class, "sizes": sizes_class,
           "outside": outside_class}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (kept: data and runs are reused)")
    parser.add_argument("--classes", default=",".join(CLASSES), help=f"comma-separated, of {', '.join(CLASSES)}")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    probe = Probe(args.work.resolve())
    started = time.perf_counter()
    data = make_data(probe)
    for name in args.classes.split(","):
        CLASSES[name](probe, data)
    totals = {o: 0 for o in OUTCOMES}
    print(f"\n{'class':<16}{'cases':>6}" + "".join(f"{o:>15}" for o in OUTCOMES))
    for klass in dict.fromkeys(c.klass for c in probe.cases):
        cases = [c for c in probe.cases if c.klass == klass]
        counts = [sum(c.outcome == o for c in cases) for o in OUTCOMES]
        for o, n in zip(OUTCOMES, counts):
            totals[o] += n
        print(f"{klass:<16}{len(cases):>6}" + "".join(f"{n:>15}" for n in counts))
    print(f"{'total':<16}{len(probe.cases):>6}" + "".join(f"{totals[o]:>15}" for o in OUTCOMES))
    elapsed = time.perf_counter() - started
    print(f"({elapsed:.0f} s)")
    (args.work / "probe.json").write_text(json.dumps({"seconds": round(elapsed), "totals": totals,
                                                      "cases": [asdict(c) for c in probe.cases]}, indent=2))
    return 0 if totals["correct"] + totals["clear error"] == len(probe.cases) else 1


if __name__ == "__main__":
    sys.exit(main())
