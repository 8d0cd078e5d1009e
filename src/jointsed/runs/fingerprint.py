"""The data a run was trained on: ``RUN_DIR/data.json`` (:data:`~jointsed.runs.layout.DATA_FILE`).

``--resume`` continues a run from its checkpoint; on another dataset it would silently train the
rest of the epochs on other clips (and the per-epoch random streams would index other files). The
fingerprint is cheap on purpose: for each set (weak, synthetic, unlabelled, validation) the clip
names in load order and each file's size in bytes, no audio hashing (17k DESED clips: a
``stat`` each). It catches a different data root, a changed table, added or removed clips and
re-encoded or replaced files (a new size); a file rewritten in place with the same size is not
caught (as for ``make``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from jointsed.runs.layout import DATA_FILE
from jointsed.utils.atomic import atomic_write_json, read_json_object

#: version of ``data.json``
FINGERPRINT_FORMAT = "jointsed.data_fingerprint/1"


def _size(path: Optional[Path]) -> Optional[int]:
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


def set_fingerprint(names: Sequence[str], paths: Sequence[os.PathLike] = ()) -> dict[str, Any]:
    """One set: its clips (``[name, size]``, size None without a path), their count, total bytes
    and a digest of the list (compared first)."""
    paths = list(paths)
    files = [[str(n), _size(Path(paths[i])) if i < len(paths) else None] for i, n in enumerate(names)]
    digest = hashlib.sha256("\n".join(f"{n}\t{s}" for n, s in files).encode("utf-8", "surrogateescape"))
    return {"clips": len(files), "bytes": sum(s or 0 for _, s in files), "sha256": digest.hexdigest(),
            "files": files}


def data_fingerprint(sets: Mapping[str, tuple[Sequence[str], Sequence[os.PathLike]]]) -> dict[str, Any]:
    """``{"format", "sets": {set name: set_fingerprint}}`` of ``{set name: (names, paths)}``."""
    return {"format": FINGERPRINT_FORMAT,
            "sets": {name: set_fingerprint(names, paths) for name, (names, paths) in sets.items()}}


def write_fingerprint(run_dir: str | os.PathLike, fingerprint: Mapping[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / DATA_FILE, dict(fingerprint))


def read_fingerprint(run_dir: str | os.PathLike) -> Optional[dict[str, Any]]:
    """The run's fingerprint, None for a run without one (trained before it was recorded)."""
    data = read_json_object(Path(run_dir) / DATA_FILE)
    return data if data.get("format") == FINGERPRINT_FORMAT and isinstance(data.get("sets"), dict) else None


def _examples(names: Sequence[str], n: int = 3) -> str:
    names = list(names)
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def fingerprint_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between a run's fingerprint and the data now, one line per set (empty: the
    same data). Sizes are compared where both sides know them."""
    out = []
    old_sets, new_sets = saved.get("sets", {}), current.get("sets", {})
    for name in sorted(set(old_sets) | set(new_sets)):
        old, new = old_sets.get(name), new_sets.get(name)
        if old is None or new is None:
            out.append(f"{name}: {'not used by the run' if old is None else 'not used now'}"
                       f" ({(new or old)['clips']} clips {'now' if old is None else 'in the run'})")
            continue
        if old.get("sha256") == new.get("sha256"):
            continue
        old_files = {n: s for n, s in old.get("files", [])}
        new_files = {n: s for n, s in new.get("files", [])}
        removed = [n for n in old_files if n not in new_files]
        added = [n for n in new_files if n not in old_files]
        resized = [n for n in old_files if n in new_files and None not in (old_files[n], new_files[n])
                   and old_files[n] != new_files[n]]
        parts = []
        if removed:
            parts.append(f"{len(removed)} clip(s) of the run are gone ({_examples(removed)})")
        if added:
            parts.append(f"{len(added)} clip(s) are new ({_examples(added)})")
        if resized:
            parts.append(f"{len(resized)} file(s) changed size ({_examples(resized)})")
        if not parts and list(old_files) != list(new_files):
            parts.append("the clips are listed in another order")
        if parts:
            out.append(f"{name}: {old['clips']} clips in the run, {new['clips']} now: " + "; ".join(parts))
    return out
