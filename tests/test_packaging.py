"""The wheel works when installed alone: it carries the recipes, and the CLI and the API find them
by name from a folder outside the repository, with no source tree on ``sys.path``.

The wheel is built offline from a copy of the sources (no ``build/`` left in the repository, no
stale files from an earlier build) and installed with ``--no-deps --no-index`` into a new venv.
The third-party dependencies come from this interpreter's site-packages through a ``.pth`` file
holding its plain path: a plain path line only adds the folder to ``sys.path``, the ``.pth`` files
inside it (the editable install of jointsed from ``src/``) are not processed, which the test
checks (``jointsed.__file__`` must be inside the new venv). ``scripts/check_wheel.sh`` is the
same check with the dependencies installed from the package index.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from jointsed.recipes import list_recipes

REPO = Path(__file__).resolve().parents[1]


def _version(dist: str) -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(part) for part in version(dist).split(".")[:2] if part.isdigit())


def _build_wheel(tmp: Path) -> Path:
    # setuptools >= 70.1 builds wheels itself, older ones need the wheel package (versions read
    # from the metadata: importing setuptools here would fight the distutils already imported)
    missing = [name for name in ("pip", "setuptools") if importlib.util.find_spec(name) is None]
    if not missing and _version("setuptools") < (70, 1) and importlib.util.find_spec("wheel") is None:
        missing.append("wheel")
    if missing:
        pytest.skip(f"cannot build the wheel offline: {', '.join(missing)} not installed in this interpreter")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp / "wheel"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", str(source), "-w", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("jointsed-*.whl")
    return wheel


def _venv_with_wheel(tmp: Path, wheel: Path) -> tuple[Path, Path]:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # this interpreter's dependencies, as plain paths (their own .pth files, e.g. the editable
    # jointsed, are not processed)
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "jointsed_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    return venv, python


def test_installed_wheel_alone_has_the_recipes_and_finds_them_by_name(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = list_recipes()
    packaged = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("jointsed/recipes/")}
    assert {f"jointsed/recipes/{name}.yaml" for name in names} <= packaged

    venv, python = _venv_with_wheel(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"  # not the repository: nothing can come from a checkout
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    run = dict(cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)

    helped = subprocess.run([str(venv / "bin" / "jointsed"), "demo", "--help"], **run)
    assert helped.returncode == 0, helped.stderr
    assert all(name in helped.stdout for name in names), helped.stdout

    script = (
        "import jointsed, json; from jointsed import api; from jointsed.recipes import resolve_recipe\n"
        "c = api.load_recipe('dcase2019/joint')\n"
        "print(json.dumps({'module': jointsed.__file__, 'recipe': str(resolve_recipe('dcase2019/joint')),\n"
        "  'system': c.system, 'teacher_width': c.model.teacher.width, 'lr': c.optimizer.lr,\n"
        "  'distillation': c.joint.distillation.enabled, 'focal': c.joint.focal.enabled}))\n"
    )
    loaded = subprocess.run([str(python), "-c", script], **run)
    assert loaded.returncode == 0, loaded.stderr
    import json

    info = json.loads(loaded.stdout.strip().splitlines()[-1])
    for key in ("module", "recipe"):  # the wheel's copy, not src/ through the editable install
        assert Path(info[key]).resolve().is_relative_to(venv.resolve()), info
    # the joint recipe is guided learning + DFD + AFL, with Lin's full-size settings inherited
    # through base: gl_baseline.yaml inside the installed package
    assert info["system"] == "guided_learning" and info["distillation"] and info["focal"]
    assert info["teacher_width"] == 1.0 and info["lr"] == 0.0018
