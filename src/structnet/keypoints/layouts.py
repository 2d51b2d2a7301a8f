"""Keypoint layouts as data: joint names, left/right flip pairs, the human skeletal graph, the structure-aware
loss groups S_n of Ke et al. 2018 (Sec. 3.3) and the torso joints of the PCK normaliser.

Built-in layouts live in ``structnet/keypoints/layouts/<name>.yaml`` (``lsp14``, ``mpii16``, ``coco17``); a path to
a YAML file of the same form gives a custom layout::

    name: my_layout
    joints: [a, b, c]                       # order = channel order of the heatmaps
    flip_pairs: [[a, b]]                    # swapped by a horizontal flip
    edges: [[a, b], [b, c]]                 # skeletal graph (drawing)
    structure_groups: {a: [a, b], b: [a, b, c], c: [c, b]}   # S_n for every joint n (must contain n)
    torso: [a, c]                           # optional, PCK torso normaliser
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

LAYOUT_DIR = Path(__file__).resolve().parent / "layouts"

__all__ = ["KeypointLayout", "get_layout", "list_layouts", "LAYOUT_DIR"]


@dataclass(frozen=True)
class KeypointLayout:
    name: str
    joints: Tuple[str, ...]
    flip_pairs: Tuple[Tuple[int, int], ...]
    edges: Tuple[Tuple[int, int], ...]
    structure_groups: Tuple[Tuple[int, ...], ...]  # per joint n (in joint order): indices of S_n, n first
    torso: Optional[Tuple[int, int]] = None

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        try:
            return self.joints.index(name)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {name!r}; joints: {', '.join(self.joints)}") from None

    def flip_permutation(self) -> np.ndarray:
        """``perm`` with ``flipped[:, perm[k]] = ...``: joint k of a mirrored image is joint ``perm[k]``."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def neighbours(self, joint: Union[int, str]) -> List[int]:
        """Graph neighbours of a joint (by index or name), sorted."""
        j = self.index(joint) if isinstance(joint, str) else int(joint)
        return sorted({b for a, b in self.edges if a == j} | {a for a, b in self.edges if b == j})


def _err(src, msg: str) -> ValueError:
    return ValueError(f"keypoint layout {src}: {msg}")


def _parse(d: dict, src) -> KeypointLayout:
    if not isinstance(d, dict):
        raise _err(src, "expected a mapping")
    known = {"name", "joints", "flip_pairs", "edges", "structure_groups", "torso"}
    unknown = set(d) - known
    if unknown:
        raise _err(src, f"unknown key(s) {', '.join(sorted(unknown))}; valid keys: {', '.join(sorted(known))}")
    for k in ("name", "joints"):
        if k not in d:
            raise _err(src, f"missing key {k!r}")
    joints = tuple(str(j) for j in d["joints"])
    if len(set(joints)) != len(joints):
        raise _err(src, "duplicate joint names")
    idx = {j: i for i, j in enumerate(joints)}

    def ix(name, where):
        if name not in idx:
            raise _err(src, f"{where}: unknown joint {name!r}; joints: {', '.join(joints)}")
        return idx[name]

    pairs = tuple((ix(a, "flip_pairs"), ix(b, "flip_pairs")) for a, b in d.get("flip_pairs", []) or [])
    seen = [i for p in pairs for i in p]
    if len(set(seen)) != len(seen):
        raise _err(src, "a joint appears in two flip pairs")
    edges = tuple((ix(a, "edges"), ix(b, "edges")) for a, b in d.get("edges", []) or [])
    groups_d = d.get("structure_groups") or {j: [j] + [joints[n] for n in sorted(
        {b for a, b in edges if a == idx[j]} | {a for a, b in edges if b == idx[j]})] for j in joints}
    missing = [j for j in joints if j not in groups_d]
    if missing:
        raise _err(src, f"structure_groups: no group for joint(s) {', '.join(missing)}")
    groups = []
    for j in joints:
        g = [ix(n, f"structure_groups[{j}]") for n in groups_d[j]]
        if idx[j] not in g:
            raise _err(src, f"structure_groups[{j}] must contain {j!r} itself")
        groups.append(tuple([idx[j]] + [n for n in g if n != idx[j]]))
    extra = set(groups_d) - set(joints)
    if extra:
        raise _err(src, f"structure_groups: unknown joint(s) {', '.join(sorted(extra))}")
    torso = d.get("torso")
    torso_t = (ix(torso[0], "torso"), ix(torso[1], "torso")) if torso else None
    return KeypointLayout(str(d["name"]), joints, pairs, edges, tuple(groups), torso_t)


def list_layouts() -> List[str]:
    return sorted(p.stem for p in LAYOUT_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def _load(path: str) -> KeypointLayout:
    import yaml

    with open(path) as f:
        return _parse(yaml.safe_load(f), path)


def get_layout(name_or_path: Union[str, Path, KeypointLayout]) -> KeypointLayout:
    """A built-in layout by name (``lsp14``, ``mpii16``, ``coco17``) or a custom one from a YAML path."""
    if isinstance(name_or_path, KeypointLayout):
        return name_or_path
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise FileNotFoundError(f"keypoint layout file not found: {p}")
        return _load(str(p.resolve()))
    f = LAYOUT_DIR / f"{name_or_path}.yaml"
    if not f.is_file():
        raise KeyError(f"unknown keypoint layout {str(name_or_path)!r}; built-in: {', '.join(list_layouts())}")
    return _load(str(f))
