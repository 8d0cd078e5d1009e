"""Issue 11, class 3: ``kill -9`` leaves no orphan worker, and a rerun removes the temporaries
the killed run owned.

Catalogue:

* kill -9 of ``jointsed synth --workers 2``  -> its workers exit within a second; the hidden
  ``.DIR.<host>-<pid>.*.tmp`` folder it left is removed by the next ``synth --out DIR``
* kill -9 of ``jointsed features --workers 2`` (workers busy on slow files)  -> the workers exit
* a temporary of a live process, or of another host, is never removed
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _jointsed(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "jointsed", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)


def _kill_and_check_workers(proc: subprocess.Popen, ready) -> None:
    workers: list[int] = []
    try:
        assert _wait(lambda: len(_children(proc.pid)) >= 2 and ready(), 60), "the workers did not start"
        time.sleep(1.0)  # the workers' initializers have run
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # they notice within POLL_SECONDS when the machine is idle; allow for a loaded one
        assert _wait(lambda: not any(_alive(w) for w in workers), 20), \
            f"orphan workers still running: {[w for w in workers if _alive(w)]}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers or _children(proc.pid):  # orphans of a failed check: do not leave them running
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_kill_9_of_synth_leaves_no_worker_and_the_rerun_cleans_up(tmp_path):
    out = tmp_path / "ds"
    proc = _jointsed("synth", "--preset", "tiny", "--n-weak", "400", "--workers", "2", "--out", str(out),
                     "--no-progress")
    temporaries = lambda: sorted(tmp_path.glob(".ds.*.tmp"))  # noqa: E731
    written = lambda: any(t.rglob("*.wav") for t in temporaries())  # noqa: E731 - workers are rendering
    _kill_and_check_workers(proc, written)
    assert temporaries(), "the killed run left no temporary folder (nothing to test)"
    rerun = subprocess.run([sys.executable, "-m", "jointsed", "synth", "--preset", "tiny", "--n-weak", "1",
                            "--n-synthetic", "1", "--n-unlabelled", "1", "--n-validation", "1", "--workers", "1",
                            "--out", str(out), "--no-progress"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert temporaries() == [] and (out / "synth.json").is_file()


def test_kill_9_of_features_leaves_no_worker(tmp_path):
    files = []
    for i in range(4):
        files.append(tmp_path / f"a{i}.wav")
        sf.write(files[-1], np.zeros(16000, dtype=np.float32), 16000)
    # every clip takes a minute (as on a slow network file system); the fork workers inherit the patch
    script = ("import sys, time, jointsed.audio.cache as c; slow = c._compute_entry; "
              "c._compute_entry = lambda *a: (time.sleep(60), slow(*a))[1]; "
              "from jointsed.cli import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", script, "features", *map(str, files), "--cache",
                             str(tmp_path / "cache"), "--workers", "2", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _kill_and_check_workers(proc, lambda: True)
