"""Human3.6M poses, cameras and Stacked Hourglass detections in the 3d-pose-baseline layout (no images).

The folder layout is that of ``../shared/data/h36m`` (its README): ``poses3d.npz`` (keys ``"S9/Directions 1"``,
values ``(N, 17, 3)`` world coordinates in mm, z up), ``cameras.json`` (per subject the four cameras with ``R``,
``T``, ``f``, ``c``, ``k``, ``p`` as stored in ``cameras.h5``) and, optionally, ``detections_sh.npz`` (keys
``"S9/Directions 1/54138969"``, values ``(N, 16, 2)`` pixels in MPII order). Any frame subset of these files
works; the standard protocol trains on S1, S5, S6, S7, S8 and tests on S9, S11.

Camera convention (verified against the detections, README): ``Xcam = R.T @ (Xworld - T)`` with the stored ``R``,
``uv = f * Xcam[:2] / Xcam[2] + c``; lens distortion is ignored, as in 3d-pose-baseline.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from ..errors import UserError
from .joints import action_of

__all__ = ["Camera", "H36M", "TRAIN_SUBJECTS", "TEST_SUBJECTS", "FRAME_SIZES", "Sequence3D", "DETECTION_FILES"]

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
#: The Stacked Hourglass detection files a folder may hold (test subjects, training subjects; disjoint keys).
DETECTION_FILES = ("detections_sh.npz", "detections_sh_train.npz")
#: Video frame size (width, height) per camera name.
FRAME_SIZES = {"54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000),
               "60457274": (1000, 1002)}


@dataclass(frozen=True)
class Camera:
    """One calibrated Human3.6M camera (values as stored in ``cameras.h5``; ``T`` in mm, ``f``, ``c`` in px)."""

    name: str
    R: np.ndarray
    T: np.ndarray
    f: np.ndarray
    c: np.ndarray
    width: int = 1000
    height: int = 1000

    def world_to_camera(self, x: np.ndarray) -> np.ndarray:
        """``(..., 3)`` world mm -> camera frame mm (x right, y down, z forward)."""
        return (np.asarray(x, dtype=np.float64) - self.T) @ self.R

    def camera_to_world(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.R.T + self.T

    def project(self, xcam: np.ndarray) -> np.ndarray:
        """``(..., 3)`` camera-frame points -> ``(..., 2)`` pixels (no distortion)."""
        xcam = np.asarray(xcam, dtype=np.float64)
        z = xcam[..., 2:3]
        if np.any(z <= 0):
            raise ValueError("a point lies behind the camera (z <= 0)")
        return xcam[..., :2] / z * self.f + self.c

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        name = str(d["name"])
        w, h = FRAME_SIZES.get(name, (1000, 1000))
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("R", "T", "f", "c")}
        if arr["R"].shape != (3, 3) or arr["T"].shape != (3,) or arr["f"].shape != (2,) or arr["c"].shape != (2,):
            raise UserError(f"camera {name}: R must be 3x3, T 3 values, f and c 2 values each")
        if not all(np.isfinite(v).all() for v in arr.values()):
            raise UserError(f"camera {name}: non-finite calibration values")
        return cls(name=name, width=w, height=h, **arr)


@dataclass
class Sequence3D:
    """One subject / sequence / camera: 3D joints in the camera frame and their projections."""

    subject: str
    sequence: str
    camera: Camera
    joints_cam: np.ndarray        # (N, 17, 3) mm, camera frame
    joints_2d: np.ndarray         # (N, 17, 2) px, projected GT
    detections: Optional[np.ndarray] = None  # (N, 16, 2) px, Stacked Hourglass (MPII order) where available

    @property
    def action(self) -> str:
        return action_of(self.sequence)

    def __len__(self) -> int:
        return len(self.joints_cam)


def _open_npz(path: Path):
    try:
        return np.load(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc})") from None


class H36M:
    """Reader of a folder in the 3d-pose-baseline layout (module docstring). Arrays are read on first use."""

    def __init__(self, root) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"Human3.6M folder {self.root} does not exist (it holds poses3d.npz and cameras.json)")
        for name in ("poses3d.npz", "cameras.json"):
            if not (self.root / name).is_file():
                raise UserError(f"{self.root / name}: no such file (a Human3.6M folder holds poses3d.npz and "
                                f"cameras.json, see docs/pose3d.md)")
        self._poses = _open_npz(self.root / "poses3d.npz")
        self._det: Dict[str, Any] = {}   # key -> (file name, the npz holding it)
        for name in DETECTION_FILES:
            if (self.root / name).is_file():
                npz = _open_npz(self.root / name)
                both = sorted(set(npz.files) & set(self._det))
                if both:
                    raise UserError(f"{self.root / name}: sequence {both[0]!r} is also in another detections file "
                                    f"({', '.join(DETECTION_FILES)} hold disjoint sequences)")
                self._det.update({k: (name, npz) for k in npz.files})
        try:
            cams = json.loads((self.root / "cameras.json").read_text())["cameras"]
            self.cameras: Dict[str, List[Camera]] = {s: [Camera.from_dict(c) for c in v] for s, v in cams.items()}
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"{self.root / 'cameras.json'}: not a cameras file ({type(exc).__name__}: {exc})") \
                from None
        self.keys = sorted(self._poses.files)
        bad = [k for k in self.keys if k.count("/") != 1]
        if bad:
            raise UserError(f"{self.root / 'poses3d.npz'}: keys must be 'S<n>/<sequence>', got {bad[0]!r}")

    def subjects(self) -> List[str]:
        return sorted({k.split("/")[0] for k in self.keys}, key=lambda s: int(s[1:]) if s[1:].isdigit() else 0)

    def sequences(self, subject: str) -> List[str]:
        return [k.split("/", 1)[1] for k in self.keys if k.split("/")[0] == subject]

    def world(self, subject: str, sequence: str) -> np.ndarray:
        """``(N, 17, 3)`` float32 world mm of one sequence (UserError on a bad shape or non-finite values)."""
        key = f"{subject}/{sequence}"
        if key not in self._poses.files:
            raise UserError(f"{self.root / 'poses3d.npz'} has no sequence {key!r}")
        x = np.asarray(self._poses[key], dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (17, 3):
            raise UserError(f"{self.root / 'poses3d.npz'}[{key!r}]: expected (N, 17, 3), got {x.shape}")
        if not np.isfinite(x).all():
            raise UserError(f"{self.root / 'poses3d.npz'}[{key!r}]: non-finite joint coordinates")
        return x

    def subjects_with_detections(self) -> List[str]:
        """The subjects of which the detections files hold at least one sequence (and which have poses)."""
        have = {k.split("/")[0] for k in self._det}
        return [s for s in self.subjects() if s in have]

    def detections(self, subject: str, sequence: str, camera: str) -> Optional[np.ndarray]:
        """``(N, 16, 2)`` Stacked Hourglass detections, or None when the folder has none for this camera."""
        key = f"{subject}/{sequence}/{camera}"
        if key not in self._det:
            return None
        name, npz = self._det[key]
        d = np.asarray(npz[key], dtype=np.float32)
        if d.ndim != 3 or d.shape[1:] != (16, 2):
            raise UserError(f"{self.root / name}[{key!r}]: expected (N, 16, 2), got {d.shape}")
        return d

    def iter_sequences(self, subjects: Sequence[str], cameras: Optional[Sequence[str]] = None,
                       need_detections: bool = False) -> Iterator[Sequence3D]:
        """Every (sequence, camera) of ``subjects``: camera-frame joints and projections. With
        ``need_detections`` the pairs without detections are skipped (e.g. ``S11/Directions`` on 54138969, missing
        from the release); detections of another length than the poses are a UserError."""
        missing = [s for s in subjects if s not in self.subjects()]
        if missing:
            raise UserError(f"{self.root}: no poses of subject(s) {', '.join(missing)} "
                            f"(the folder has {', '.join(self.subjects()) or 'none'})")
        for subject in subjects:
            if subject not in self.cameras:
                raise UserError(f"{self.root / 'cameras.json'} has no cameras of {subject}")
            for seq in self.sequences(subject):
                world = self.world(subject, seq)
                for cam in self.cameras[subject]:
                    if cameras is not None and cam.name not in cameras:
                        continue
                    det = self.detections(subject, seq, cam.name)
                    if need_detections and det is None:
                        continue
                    if det is not None and len(det) != len(world):
                        raise UserError(f"{subject}/{seq}/{cam.name}: {len(det)} detections for {len(world)} poses")
                    xc = cam.world_to_camera(world)
                    yield Sequence3D(subject, seq, cam, xc.astype(np.float32),
                                     cam.project(xc).astype(np.float32), det)

    def arrays(self, subjects: Sequence[str], need_detections: bool = False,
               every: int = 1) -> Dict[str, np.ndarray]:
        """All frames of ``subjects`` (every ``every``-th of each sequence) stacked: ``joints_cam`` (M, 17, 3),
        ``joints_2d`` (M, 17, 2), ``detections`` (M, 16, 2; NaN where absent), ``action`` (M,) str, ``subject``,
        ``camera``, ``sequence`` (M,) str, ``f``, ``c`` (M, 2) the camera's focal lengths and principal point."""
        parts: Dict[str, list] = {k: [] for k in ("joints_cam", "joints_2d", "detections", "action", "subject",
                                                  "camera", "sequence", "f", "c")}
        for s in self.iter_sequences(subjects, need_detections=need_detections):
            n = len(s.joints_cam[::every])
            parts["joints_cam"].append(s.joints_cam[::every])
            parts["joints_2d"].append(s.joints_2d[::every])
            det = s.detections[::every] if s.detections is not None else np.full((n, 16, 2), np.nan, np.float32)
            parts["detections"].append(det)
            parts["f"].append(np.tile(np.asarray(s.camera.f, np.float32).reshape(1, 2), (n, 1)))
            parts["c"].append(np.tile(np.asarray(s.camera.c, np.float32).reshape(1, 2), (n, 1)))
            for k, v in (("action", s.action), ("subject", s.subject), ("camera", s.camera.name),
                         ("sequence", s.sequence)):
                parts[k].append(np.full(n, v, dtype=object))
        if not parts["joints_cam"]:
            raise UserError(f"{self.root}: no frames of {', '.join(subjects)}"
                            + (" with detections" if need_detections else ""))
        return {k: np.concatenate(v) for k, v in parts.items()}
