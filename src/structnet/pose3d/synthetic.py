"""Synthetic people for the image -> skeleton-map network (Human3.6M's images are not used).

A person is a set of shaded **capsules** (a cylinder with round ends per bone, plus two torso fillers), posed by a
Human3.6M 3D pose and seen by a real Human3.6M camera, z-buffered, composited on a background photo (DUTS-TR for
training, ECSSD for the S9/S11 test renderings), and cropped to the person box the lifter uses
(:func:`~structnet.pose3d.render.person_box` of the 2D joints, so the network's output maps line up with the
maps the lifter's regressors were trained on). Everything is one vectorised pass over ``(capsules, H, W)``.

What a capsule person is and is not: the limbs' layout, thickness, self-occlusion and perspective are those of
a real person in a real camera; the appearance (flat-coloured clothes, Lambert shading, no hands, feet, hair,
faces, folds or other people) is not. A network trained on them learns to find a body's parts by shape; how much
of that carries to photos is what ``structnet predict pose3d`` on LSP-extended photos shows.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

__all__ = ["CAPSULES", "render_people", "compiled_render_people", "draw_appearance", "Backgrounds",
           "SyntheticPeople"]

#: (joint a, joint b, radius in mm, clothing group): 0 top, 1 bottom, 2 skin, 3 forearm (skin or top).
CAPSULES = (
    (0, 1, 95, 1), (0, 4, 95, 1), (1, 2, 75, 1), (2, 3, 52, 1), (4, 5, 75, 1), (5, 6, 52, 1),
    (0, 7, 125, 0), (7, 8, 135, 0), (1, 14, 75, 0), (4, 11, 75, 0),
    (8, 9, 50, 2), (9, 10, 98, 2),
    (8, 11, 60, 0), (11, 12, 48, 0), (12, 13, 38, 3), (8, 14, 60, 0), (14, 15, 48, 0), (15, 16, 38, 3),
)
_CA = [c[0] for c in CAPSULES]
_CB = [c[1] for c in CAPSULES]
_CR = torch.tensor([float(c[2]) for c in CAPSULES])
_CG = [c[3] for c in CAPSULES]


_HEAD = [i for i, c in enumerate(CAPSULES) if (c[0], c[1]) == (9, 10)][0]


def facing(joints_cam: torch.Tensor) -> torch.Tensor:
    """Unit vector ``(N, 3)`` the body faces (camera frame): perpendicular to the shoulder + hip line (left minus
    right) and the trunk's up direction (thorax minus hip); towards the camera (-z) for a person facing it."""
    j = joints_cam
    lr = (j[:, 11] - j[:, 14]) + (j[:, 4] - j[:, 1])
    up = j[:, 8] - j[:, 0]
    v = torch.linalg.cross(lr, up)
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def render_people(joints_cam, f, c, center, side, size: int, background, colors, light,
                  radius_scale=None, hair=None) -> torch.Tensor:
    """Shaded capsule people composited on backgrounds, in square crops.

    ``joints_cam`` ``(N, 17, 3)`` mm (camera frame, z forward), ``f``, ``c`` ``(N, 2)`` the camera's focal lengths
    and principal point (pixels), ``center`` ``(N, 2)`` / ``side`` ``(N,)`` the crop in image pixels,
    ``background`` ``(N, 3, size, size)`` in [0, 1], ``colors`` ``(N, len(CAPSULES), 3)`` in [0, 1], ``light``
    ``(N, 3)`` a unit direction towards the light (camera frame), ``radius_scale`` ``(N,)`` (body build; default 1),
    ``hair`` ``(N, 3)``: the colour of the back half of the head (the side facing away from where the body faces,
    :func:`facing`), so that a face tells front from back as on a real person (default: none, the head one colour).
    Returns ``(N, 3, size, size)`` float32 in [0, 1]."""
    j = torch.as_tensor(joints_cam, dtype=torch.float32)
    n = j.shape[0]
    f = torch.as_tensor(f, dtype=torch.float32).reshape(n, 1, 2)
    c = torch.as_tensor(c, dtype=torch.float32).reshape(n, 1, 2)
    z = j[..., 2].clamp_min(1.0)                                        # (N, 17)
    uv = j[..., :2] / z[..., None] * f + c                              # image pixels
    center = torch.as_tensor(center, dtype=torch.float32).reshape(n, 1, 2)
    side = torch.as_tensor(side, dtype=torch.float32).reshape(n, 1, 1)
    scale = size / side                                                 # crop pixels per image pixel
    p = (uv - (center - side / 2.0)) * scale - 0.5                      # crop pixels (crop_to_map)
    rs = torch.ones(n) if radius_scale is None else torch.as_tensor(radius_scale, dtype=torch.float32).reshape(n)
    r_mm = _CR[None, :] * rs[:, None]                                   # (N, C)
    a, b = p[:, _CA], p[:, _CB]                                         # (N, C, 2)
    za, zb = z[:, _CA], z[:, _CB]
    # projected radius at each end: f * r / z, in crop pixels
    fr = f.mean(-1) * scale[..., 0]                                     # (N, 1)
    ra, rb = fr * r_mm / za, fr * r_mm / zb                             # (N, C)
    v = b - a
    vv = (v * v).sum(-1).clamp_min(1e-6)[..., None, None]
    xs = torch.arange(size, dtype=torch.float32).view(1, 1, 1, size)
    ys = torch.arange(size, dtype=torch.float32).view(1, 1, size, 1)
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]
    vx, vy = v[..., 0, None, None], v[..., 1, None, None]
    t = (((xs - ax) * vx + (ys - ay) * vy) / vv).clamp(0.0, 1.0)       # (N, C, S, S)
    ox, oy = xs - ax - t * vx, ys - ay - t * vy
    d2 = ox * ox + oy * oy
    rad = ra[..., None, None] + t * (rb - ra)[..., None, None]
    inside = d2 < rad * rad
    s = (1.0 - d2 / (rad * rad).clamp_min(1e-6)).clamp_min(0.0).sqrt()  # 1 on the axis, 0 at the rim
    depth = za[..., None, None] + t * (zb - za)[..., None, None] - r_mm[..., None, None] * s
    front = torch.where(inside, depth, torch.tensor(float("inf"))).argmin(dim=1, keepdim=True)  # (N, 1, S, S)
    covered = inside.any(dim=1, keepdim=True)
    radf = rad.clamp_min(1e-6)
    nx = torch.gather(ox / radf, 1, front)
    ny = torch.gather(oy / radf, 1, front)
    nz = -torch.gather(s, 1, front)                                     # the surface faces the camera (-z)
    lt = torch.as_tensor(light, dtype=torch.float32).reshape(n, 3, 1, 1)
    lambert = (nx * lt[:, 0:1] + ny * lt[:, 1:2] + nz * lt[:, 2:3]).clamp_min(0.0)
    shade = 0.35 + 0.75 * lambert                                       # (N, 1, S, S)
    col = torch.as_tensor(colors, dtype=torch.float32)                  # (N, C, 3)
    albedo = torch.gather(col.transpose(1, 2), 2, front.flatten(2).expand(-1, 3, -1)).view(n, 3, size, size)
    if hair is not None:
        fv = facing(j).reshape(n, 3, 1, 1)
        back = (nx * fv[:, 0:1] + ny * fv[:, 1:2] + nz * fv[:, 2:3]) < -0.15   # the head's surface facing away
        hc = torch.as_tensor(hair, dtype=torch.float32).reshape(n, 3, 1, 1)
        albedo = torch.where(back & (front == _HEAD), hc, albedo)
    person = (albedo * shade).clamp(0.0, 1.0)
    bg = torch.as_tensor(background, dtype=torch.float32)
    return torch.where(covered, person, bg)


def draw_appearance(rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Random clothes (top, bottom, skin; forearms bare or sleeved), hair, light direction and build of one
    person."""
    skin = np.array([0.95, 0.75, 0.6]) * rng.uniform(0.35, 1.05) + rng.normal(0, 0.03, 3)
    top, bottom = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    if rng.random() < 0.3:
        bottom = rng.uniform(0.05, 0.35) * np.ones(3) + rng.normal(0, 0.03, 3)  # dark trousers
    groups = [top, bottom, skin, skin if rng.random() < 0.5 else top]
    colors = np.stack([groups[g] for g in _CG]) * rng.uniform(0.9, 1.1, (len(CAPSULES), 1))
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.9, 0.3), -1.0])
    hair = (np.array([0.9, 0.75, 0.45]) if rng.random() < 0.15 else np.full(3, rng.uniform(0.03, 0.3)))
    hair = hair * rng.uniform(0.8, 1.1) + rng.normal(0, 0.02, 3)
    return {"colors": np.clip(colors, 0, 1).astype(np.float32), "hair": np.clip(hair, 0, 1).astype(np.float32),
            "light": (light / np.linalg.norm(light)).astype(np.float32),
            "radius_scale": np.float32(rng.uniform(0.8, 1.25))}


def _background(im: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop of the image ``im`` (H, W, 3) uint8 resized to ``size`` (3, size, size) in [0, 1]."""
    import cv2

    h, w = im.shape[:2]
    s = int(min(h, w) * rng.uniform(0.5, 1.0))
    y0, x0 = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    crop = im[y0:y0 + s, x0:x0 + s]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
    return crop.astype(np.float32).transpose(2, 0, 1) / 255.0


class Backgrounds:
    """Background photos by index, each decoded once (``paths``: image files). One bank serves every
    :class:`SyntheticPeople` built over it, so an evaluation that renders sequence after sequence reads each photo
    once (2000 DUTS images decoded: ~0.4 GB)."""

    def __init__(self, paths: Sequence = ()):
        self.paths = list(paths)
        self._decoded: Dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, k: int) -> np.ndarray:
        if k not in self._decoded:
            from ..data.io import read_image

            self._decoded[k] = read_image(self.paths[k])
        return self._decoded[k]


_RENDER = {"fn": None}


def compiled_render_people(*args) -> torch.Tensor:
    """:func:`render_people` through ``torch.compile`` (2x faster on one core, the same images; compiled once per
    process), or plain where compiling fails."""
    if _RENDER["fn"] is None:
        from .render import _compiled

        _RENDER["fn"] = _compiled(render_people)
    return _RENDER["fn"](*args)


class SyntheticPeople:
    """Renders one synthetic training or test image per (pose, camera) and its target skeleton maps.

    ``poses`` ``(N, 17, 3)`` camera-frame mm, ``joints_2d`` ``(N, 17, 2)`` their projections (pixels), ``f``, ``c``
    ``(N, 2)``; ``backgrounds`` a :class:`Backgrounds` bank or a list of image paths (None: plain random grey
    levels). ``jitter``: the crop's centre moves by N(0, jitter x side) and its side scales by exp(N(0, jitter))
    (training; 0 at test). :meth:`sample` returns ``image`` (3, S, S) float32 [0, 1], ``center`` (2,), ``side``
    and ``kp`` (17, 2) the 2D joints in units of the crop (the lifter's input convention,
    :func:`~structnet.pose3d.model.normalise_2d`)."""

    def __init__(self, poses, joints_2d, f, c, backgrounds=None, image_size: int = 192,
                 box_scale: float = 1.2, jitter: float = 0.0):
        from .render import person_box

        self.poses = np.asarray(poses, np.float32)
        self.j2 = np.asarray(joints_2d, np.float64)
        self.f, self.c = np.asarray(f, np.float32), np.asarray(c, np.float32)
        self.backgrounds = backgrounds if isinstance(backgrounds, Backgrounds) else Backgrounds(backgrounds or [])
        self.size, self.jitter = int(image_size), float(jitter)
        self.center, self.side = person_box(self.j2, box_scale)

    def __len__(self) -> int:
        return len(self.poses)

    def sample(self, i: int, seed: int) -> Dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        center, side = self.center[i].copy(), float(self.side[i])
        if self.jitter > 0:
            center += rng.normal(0.0, self.jitter * side, 2)
            side *= float(np.exp(rng.normal(0.0, self.jitter)))
        if len(self.backgrounds):
            bg = _background(self.backgrounds[int(rng.integers(len(self.backgrounds)))], self.size, rng)
        else:
            bg = np.full((3, self.size, self.size), rng.uniform(0.2, 0.8), np.float32)
        app = draw_appearance(rng)
        img = compiled_render_people(self.poses[i][None], self.f[i][None], self.c[i][None], center[None], np.array([side]),
                            self.size, bg[None], app["colors"][None], app["light"][None],
                            np.array([app["radius_scale"]]), app["hair"][None])[0].numpy()
        if self.jitter > 0:  # photometric: contrast, brightness, sensor noise
            img = img * rng.uniform(0.75, 1.25) + rng.uniform(-0.1, 0.1)
            img = img + rng.normal(0.0, rng.uniform(0.0, 0.04), img.shape)
        kp = ((self.j2[i] - center) / side).astype(np.float32)
        return {"image": np.clip(img, 0.0, 1.0).astype(np.float32), "center": center.astype(np.float32),
                "side": np.float32(side), "kp": kp}
