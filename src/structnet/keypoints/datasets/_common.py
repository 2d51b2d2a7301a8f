"""Helpers shared by the keypoint readers (:mod:`.lsp`, :mod:`.mpii`, :mod:`.coco`): path checks with one-line
errors, the NaN / mask clean-up of the package conventions, and the record builder. Reads no format itself.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .records import PoseRecord

PathLike = Union[str, os.PathLike]


def _need_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {str(p)!r}" + (" (is a folder)" if p.is_dir() else ""))
    return p


def _need_dir(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{what} not found: {str(p)!r}")
    return p


def _clean(kp: np.ndarray, visible: np.ndarray, annotated: np.ndarray, source) -> Tuple[np.ndarray, ...]:
    """Non-finite coordinates -> not annotated (one warning with the count); visible &= annotated; coordinates
    of non-annotated joints -> 0. Vectorised over ``(N, K)``."""
    kp = np.asarray(kp, dtype=np.float64)
    bad = ~np.isfinite(kp).all(-1)
    nbad = int((bad & annotated).sum())
    if nbad:
        warnings.warn(f"{source}: {nbad} joint(s) with NaN/inf coordinates treated as not annotated", UserWarning,
                      stacklevel=3)
    annotated = np.asarray(annotated, bool) & ~bad
    visible = np.asarray(visible, bool) & annotated
    kp = np.where(annotated[..., None], kp, 0.0).astype(np.float32)
    return kp, visible, annotated


def _build(names: Sequence[str], image_paths: Sequence[Optional[Path]], kp, visible, annotated, layout: str,
           center, scale, box, norm, norm_kind: str, image_sizes=None, metas=None) -> List[PoseRecord]:
    n = len(names)
    center = np.asarray(center, np.float32).reshape(n, 2)
    box = np.asarray(box, np.float32).reshape(n, 4)
    scale = np.asarray(scale, np.float64).reshape(n)
    norm = np.asarray(norm, np.float64).reshape(n)
    return [PoseRecord(name=str(names[i]), image_path=image_paths[i], keypoints=kp[i], visible=visible[i],
                       annotated=annotated[i], layout=layout, center=center[i], scale=float(scale[i]), box=box[i],
                       norm=float(norm[i]), norm_kind=norm_kind,
                       image_size=None if image_sizes is None else image_sizes[i],
                       meta={} if metas is None else metas[i]) for i in range(n)]



def _check_split(split: str, valid: Sequence[str], what: str) -> None:
    if split not in valid:
        raise ValueError(f"{what}: unknown split {split!r}; valid: {', '.join(valid)}")

