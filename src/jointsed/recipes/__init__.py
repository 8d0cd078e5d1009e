"""The recipes that ship with jointsed, addressed by name: ``dcase2019/joint``, ``cpu/gl_baseline``.

The YAML files live inside this package (``jointsed/recipes/<folder>/<name>.yaml``) so that an
installed wheel carries them; this module is the one place that knows where they are. Every entry
point that takes a recipe (``jointsed train``, ``jointsed demo --recipe``,
:func:`jointsed.api.load_recipe`, :func:`jointsed.training.config.load_recipe`) goes through
:func:`resolve_recipe`, which accepts

- a path to an existing YAML file (used as it is: the user's own recipes);
- a packaged recipe's name, with or without ``.yaml`` (``dcase2019/joint``, ``cpu/joint.yaml``);
- the repository-relative spelling of earlier versions (``recipes/cpu/joint.yaml``), so that
  commands written before the recipes moved into the package keep working.

Packaged recipes inherit from each other with relative ``base:`` paths (``base: joint.yaml``,
``base: ../dcase2019/crnn_mean_teacher.yaml``); they resolve because the folder is a real
directory of the installed package.
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

from jointsed.config import ConfigError

__all__ = ["describe", "list_recipes", "packaged_recipe", "recipes_root", "resolve_recipe"]

SUFFIX = ".yaml"
#: how earlier versions spelled a packaged recipe: a path relative to the repository root
LEGACY_PREFIX = "recipes/"


def recipes_root() -> Path:
    """The folder of the packaged recipes (a real directory: relative ``base:`` paths need one).

    Raises:
        ConfigError: jointsed is imported from somewhere that is not a folder (a zip file).
    """
    root = resources.files(__name__)
    # installed from a wheel or a source tree, the package is a folder on disk and files() is its
    # path. A zip import would need the whole tree extracted and kept (as_file only extracts
    # single files before Python 3.12); no supported installation does that, so it is refused.
    if not isinstance(root, Path) or not root.is_dir():
        raise ConfigError(f"packaged recipes are not a folder on disk ({root}); install jointsed "
                          "as a normal package (pip install jointsed-*.whl)")
    return root


def list_recipes() -> list[str]:
    """Names of the packaged recipes (``folder/name``, no ``.yaml``), sorted."""
    root = recipes_root()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob(f"*{SUFFIX}"))


def describe() -> str:
    """One sentence naming every packaged recipe (for ``--help`` texts and error messages)."""
    return f"packaged recipes: {', '.join(list_recipes())}"


def _name(text: str) -> str:
    """``./recipes/cpu/joint.yaml`` / ``cpu/joint.yaml`` / ``cpu/joint`` -> ``cpu/joint``."""
    name = text.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if name.startswith(LEGACY_PREFIX):
        name = name[len(LEGACY_PREFIX):]
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def packaged_recipe(name: str) -> Path:
    """The file of a packaged recipe, by name only (no file-system lookup of ``name`` itself).

    Args:
        name: ``dcase2019/joint``, ``dcase2019/joint.yaml`` or ``recipes/dcase2019/joint.yaml``.
    Raises:
        ConfigError: no such packaged recipe; names the closest ones and lists them all.
    """
    return _lookup(os.fspath(name), "is not a packaged recipe")


def resolve_recipe(name_or_path: str | os.PathLike) -> Path:
    """The YAML file of a recipe given by path or by packaged name.

    Args:
        name_or_path: an existing file (returned as is), a packaged recipe's name with or without
            ``.yaml`` (``dcase2019/joint``), or the old ``recipes/<folder>/<name>.yaml`` spelling.
    Returns:
        The recipe file's path.
    Raises:
        ConfigError: neither a file nor a packaged recipe; the message names the closest packaged
            recipes and lists them all.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    what = "is a folder, not a recipe file" if path.is_dir() else "is neither a file nor a packaged recipe"
    return _lookup(os.fspath(name_or_path), what)


def _lookup(text: str, what: str) -> Path:
    known = list_recipes()
    name = _name(text)
    if not Path(name).is_absolute() and name in known:
        return recipes_root() / f"{name}{SUFFIX}"
    # compare the last two parts (folder/name) so that a mistyped absolute path of an old
    # checkout (/home/me/jointsed/recipes/cpu/gl_basline.yaml) still gets a useful hint
    query = "/".join(Path(name).parts[-2:])
    close = difflib.get_close_matches(query, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ConfigError(f"recipe not found: {text} {what}{hint} ({describe()}; or give the path of a YAML file)")
