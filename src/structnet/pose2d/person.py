"""The person window of a whole photo: a box regressor trained on person boxes (``model.arch: person_box``).

A *person-box model* is the localization network of Wang et al. 2014
(:class:`~structnet.nn.localization.LocalizationNet`, ``arch="lite"``: an ImageNet-pretrained EfficientNet-Lite
with three fully connected layers) trained to put a box around the person whose joints the pose model then finds:
the box of the annotated joints (LSP's convention for its person windows). ``predict pose2d`` without ``--box``
runs it on the whole photo (flip-averaged) and gives the pose model the window of that box enlarged by
:data:`~structnet.pose2d.inference.PERSON_PADDING`, then a second pose pass on the box of the joints found there
(:func:`~structnet.pose2d.inference.predict_pose_auto`). It regresses **one** box: on a photo of several
people it finds one of them (most often the largest / most central); give ``--box`` per person for crowds.

Training samples (:class:`PersonBoxTransform`): the photo, or with probability ``1 - whole_image_prob`` a random
frame around the person (each side between the person's box and 10 % of the photo beyond its edge, so the person
fills from about a fifth of the frame to all of it), sometimes cut through the body (``cut_prob``: the frame's
bottom or a side edge crosses the joint box, as in photos cut at the waist), flipped (p = 0.5) and with random
brightness / contrast, resized (anisotropically, antialiased) to the square input. The target is the box of the
annotated joints inside the frame in the network's units (0 .. 224 on both axes). Loss: L1 on the box corners in
units of the frame (divided by 224). Evaluation: the IoU of the predicted box with the annotated joints' box on
whole photos.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from ..nn.localization import UNITS, LocalizationNet, locate

__all__ = ["PERSON_BOX", "build_person_model", "person_model_metadata", "person_model_from_metadata",
           "PascalPersonBoxes", "mask_box", "PersonBoxTransform", "person_box_loss", "box_iou",
           "evaluate_person_boxes", "is_person_model", "joints_box"]

#: ``model.arch`` and the metadata ``kind`` of a person-box model.
PERSON_BOX = "person_box"


def is_person_model(model) -> bool:
    """True for a person-box model: a ``LoadedModel`` whose settings say ``kind: person_box`` (on any backend),
    or a bare :class:`~structnet.nn.localization.LocalizationNet`."""
    if (getattr(model, "settings", None) or {}).get("kind") == PERSON_BOX:
        return True
    return isinstance(getattr(model, "network", model), LocalizationNet)


def build_person_model(backbone: str = "efficientnet_lite0", pretrained: bool = True,
                       input_size: int = 160) -> LocalizationNet:
    net = LocalizationNet("lite", backbone=backbone, pretrained=pretrained, input_size=input_size)
    # the mean LSPET joint box on a whole photo is about 0.3 .. 0.7 of the width and 0.15 .. 0.85 of the height
    net.set_box_prior((0.3 * UNITS, 0.15 * UNITS, 0.7 * UNITS, 0.85 * UNITS))
    return net


def person_model_metadata(net) -> Dict[str, Any]:
    """The metadata that rebuilds a person-box network (``kind: person_box``, ``model_config``)."""
    from ..nn.modules import unwrap

    m = unwrap(net)
    if not isinstance(m, LocalizationNet):
        raise ValueError(f"a person-box model must be a LocalizationNet, got {type(m).__name__}")
    return {"task": "pose2d", "structnet_task": "pose2d", "kind": PERSON_BOX,
            "model_config": {"backbone": m.backbone_name, "input_size": int(m.input_size)}}


def person_model_from_metadata(meta: Dict[str, Any], path) -> LocalizationNet:
    from ..nn.weights import load_weights

    cfg = meta.get("model_config")
    if not isinstance(cfg, dict) or "input_size" not in cfg:
        raise UserError(f"{path}: a person-box model without its model_config in the metadata")
    try:
        net = build_person_model(str(cfg.get("backbone", "efficientnet_lite0")), False, int(cfg["input_size"]))
    except (TypeError, ValueError) as e:
        raise UserError(f"{path}: model_config does not fit a person-box model ({e})") from None
    load_weights(net, path)
    return net


def joints_box(keypoints: np.ndarray, annotated: np.ndarray, frame: Sequence[float]) -> Optional[np.ndarray]:
    """The box ``(x1, y1, x2, y2)`` of the annotated joints inside ``frame`` (same pixels), or None when fewer
    than 2 of them are inside."""
    kp = np.asarray(keypoints, np.float64)[:, :2]
    ok = np.asarray(annotated, bool) & np.isfinite(kp).all(1)
    x1, y1, x2, y2 = frame
    ok &= (kp[:, 0] >= x1) & (kp[:, 0] <= x2) & (kp[:, 1] >= y1) & (kp[:, 1] <= y2)
    if int(ok.sum()) < 2:
        return None
    lo, hi = kp[ok].min(0), kp[ok].max(0)
    return np.array([lo[0], lo[1], hi[0], hi[1]], np.float64)


def mask_box(mask: np.ndarray, frame: Sequence[float]) -> Optional[np.ndarray]:
    """The box of a person's pixels (``mask`` (H, W) bool) inside ``frame`` (pixel coordinates, centres at
    integers): ``(x1, y1, x2, y2)`` of the outermost pixel centres, as :func:`joints_box` for joints; None when
    fewer than 2 pixels are inside."""
    h, w = mask.shape
    x1, y1, x2, y2 = frame
    c0, c1 = max(0, int(np.ceil(x1))), min(w - 1, int(np.floor(x2)))
    r0, r1 = max(0, int(np.ceil(y1))), min(h - 1, int(np.floor(y2)))
    if c1 < c0 or r1 < r0:
        return None
    sub = mask[r0:r1 + 1, c0:c1 + 1]
    if int(sub.sum()) < 2:
        return None
    rows, cols = np.flatnonzero(sub.any(1)), np.flatnonzero(sub.any(0))
    return np.array([c0 + cols[0], r0 + rows[0], c0 + cols[-1], r0 + rows[-1]], np.float64)


class PascalPersonBoxes:
    """Person boxes from PASCAL-Person-Part part masks (``../shared/data/pascal-person-part``: ``images/<id>.jpg``,
    ``masks/<id>.png``, ``train.txt`` / ``test.txt``), for training person-box models beside LSPET. People are
    not separated in these masks: a person is a connected region of part pixels (8-connectivity) with the regions
    whose boxes overlap its box. Each photo gives its largest person; photos where a second region is at least
    ``ambiguous`` times the largest one's area are left out (which person is *the* person is then unclear).
    Items: ``{"image", "person_mask", "name"}``, through ``transform(sample, rng)`` when given; keys as
    :class:`~structnet.keypoints.datasets.PoseDataset` (``ds[i]`` or ``ds[(i, seed)]``)."""

    def __init__(self, root, split: str = "train", transform=None, ambiguous: float = 0.5):
        import cv2
        from pathlib import Path

        self.root = Path(root)
        lst = self.root / f"{split}.txt"
        if not lst.is_file():
            raise UserError(f"PASCAL-Person-Part split file not found: {lst}")
        self.split, self.transform, self.ambiguous = split, transform, float(ambiguous)
        ids = [i for i in lst.read_text().split() if i]
        self.ids = []
        for name in ids:
            m = cv2.imread(str(self.root / "masks" / f"{name}.png"), 0)
            if m is not None and self._person(m > 0) is not None:
                self.ids.append(name)
        if not self.ids:
            raise UserError(f"{lst}: no photo with one clear person")

    def _person(self, mask: np.ndarray) -> Optional[np.ndarray]:
        import cv2

        n, lab, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if n < 2:
            return None
        order = 1 + np.argsort(-st[1:, cv2.CC_STAT_AREA])
        big = order[0]
        if n > 2 and st[order[1], cv2.CC_STAT_AREA] >= self.ambiguous * st[big, cv2.CC_STAT_AREA]:
            return None
        x, y, bw, bh = st[big, :4]
        member = [big]
        for k in order[1:]:
            kx, ky, kw, kh = st[k, :4]
            if kx < x + bw and x < kx + kw and ky < y + bh and y < ky + kh:
                member.append(k)
        return np.isin(lab, member)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key):
        import cv2

        from ..data.io import read_image
        from ..data.keys import parse_key

        i, seed = parse_key(key, len(self))
        name = self.ids[i]
        image = read_image(self.root / "images" / f"{name}.jpg")
        mask = cv2.imread(str(self.root / "masks" / f"{name}.png"), 0)
        if mask is None:
            raise ValueError(f"unreadable PASCAL-Person-Part mask: {name}.png")
        sample = {"image": image, "person_mask": self._person(mask > 0), "name": name}
        if self.transform is None:
            return sample
        return self.transform(sample, np.random.default_rng(i if seed is None else seed))


def _frame_pixels(image: np.ndarray, frame: Sequence[float], size: int) -> np.ndarray:
    """``image`` (H, W, 3) uint8 cut at ``frame`` (x1, y1, x2, y2; integer pixels, may leave the image: zeros
    there) and resized to ``size x size``: float32 (3, size, size) in [0, 1]."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in frame)
    out = np.zeros((max(1, y2 - y1), max(1, x2 - x1), 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
    t = torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255.0
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return t[0].clamp_(0, 1).numpy()


class PersonBoxTransform:
    """``transform(sample, rng)`` of person-box training (module docstring). Picklable."""

    def __init__(self, input_size: int = 160, augment: bool = True, whole_image_prob: float = 0.4,
                 cut_prob: float = 0.15, flip_prob: float = 0.5):
        self.input_size, self.augment = int(input_size), bool(augment)
        self.whole_image_prob, self.cut_prob, self.flip_prob = float(whole_image_prob), float(cut_prob), float(flip_prob)

    def _frame(self, w: int, h: int, box: np.ndarray, rng: np.random.Generator) -> List[float]:
        if not self.augment or rng.random() < self.whole_image_prob:
            return [0.0, 0.0, float(w), float(h)]
        lo = np.array([-0.1 * w, -0.1 * h])
        hi = np.array([1.1 * w, 1.1 * h])
        a = box[:2] - rng.random(2) * np.maximum(box[:2] - lo, 0)
        b = box[2:] + rng.random(2) * np.maximum(hi - box[2:], 0)
        if rng.random() < self.cut_prob:  # a frame edge through the body (bottom, or one side)
            bw, bh = box[2] - box[0], box[3] - box[1]
            edge = rng.integers(3)
            if edge == 0:
                b[1] = box[1] + rng.uniform(0.35, 0.8) * bh
            elif edge == 1:
                b[0] = box[0] + rng.uniform(0.5, 0.85) * bw
            else:
                a[0] = box[0] + rng.uniform(0.15, 0.5) * bw
        return [float(a[0]), float(a[1]), float(b[0]), float(b[1])]

    def __call__(self, sample: Dict[str, Any], rng: np.random.Generator) -> Dict[str, Any]:
        image = sample.get("image")
        if image is None:
            raise ValueError(f"person-box sample {sample.get('name')!r} has no image")
        h, w = image.shape[:2]
        if sample.get("person_mask") is not None:  # a person's pixels instead of joints
            mask = sample["person_mask"]
            box_in = lambda fr: mask_box(mask, fr)  # noqa: E731
        else:
            kp, ann = sample["keypoints"], sample["annotated"]
            box_in = lambda fr: joints_box(kp, ann, fr)  # noqa: E731
        full = box_in((-0.5, -0.5, w - 0.5, h - 0.5))
        if full is None:
            raise ValueError(f"person-box sample {sample.get('name')!r} has no person box (fewer than 2 annotated "
                             f"joints or an empty mask)")
        frame = [float(round(v)) for v in self._frame(w, h, full, rng)]
        box = box_in(frame)
        if box is None or box[2] - box[0] < 2 or box[3] - box[1] < 2:
            frame, box = [0.0, 0.0, float(w), float(h)], full
        x = _frame_pixels(image, frame, self.input_size)
        fx1, fy1, fx2, fy2 = frame
        units = np.array([(box[0] - fx1) / (fx2 - fx1), (box[1] - fy1) / (fy2 - fy1),
                          (box[2] - fx1) / (fx2 - fx1), (box[3] - fy1) / (fy2 - fy1)]) * UNITS
        if self.augment and rng.random() < self.flip_prob:
            x = x[:, :, ::-1].copy()
            units = np.array([UNITS - units[2], units[1], UNITS - units[0], units[3]])
        if self.augment:
            gain, bias = rng.uniform(0.7, 1.3), rng.uniform(-0.1, 0.1)
            x = np.clip((x - 0.5) * gain + 0.5 + bias, 0.0, 1.0).astype(np.float32)
        return {"image": np.ascontiguousarray(x, np.float32),
                "box": np.clip(units, 0.0, UNITS).astype(np.float32)}


def person_box_loss(model, batch) -> Dict[str, torch.Tensor]:
    """``loss_fn(model, batch)`` of the trainer: L1 of the box corners in frame units / 224 (``box_l1``)."""
    pred = model(batch["image"]).float()
    return {"box_l1": (pred - batch["box"].float()).abs().mean() / UNITS * 4.0}


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box arrays ``(N, 4)`` and ``(N, 4)`` (x1, y1, x2, y2), row by row."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = lambda t: np.clip(t[:, 2] - t[:, 0], 0, None) * np.clip(t[:, 3] - t[:, 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def evaluate_person_boxes(net, ds, max_images: Optional[int] = None, flip: bool = True) -> Dict[str, Any]:
    """Box IoU of a person-box network on whole photos of a raw dataset (no transform) against the box of each
    person's annotated joints (pose datasets) or pixels (:class:`PascalPersonBoxes`): ``mean_iou``, ``iou50`` /
    ``iou70`` (fractions of persons above), ``n``."""
    net = getattr(net, "network", net)
    if not isinstance(net, LocalizationNet):
        raise UserError("evaluate_person_boxes needs a person-box model (model.arch: person_box)")
    n = len(ds) if max_images is None else min(len(ds), int(max_images))
    pred, gt = [], []
    for i in range(n):
        s = ds[i]
        h, w = s["image"].shape[:2]
        whole = (-0.5, -0.5, w - 0.5, h - 0.5)
        if s.get("person_mask") is not None:
            g = mask_box(s["person_mask"], whole)
        else:
            g = joints_box(s["keypoints"], s["annotated"], whole)
        if g is None:
            continue
        pred.append(locate(net, s["image"], flip=flip))
        gt.append(g)
    iou = box_iou(np.array(pred), np.array(gt))
    return {"mean_iou": float(iou.mean()), "iou50": float((iou >= 0.5).mean()), "iou70": float((iou >= 0.7).mean()),
            "n": int(len(iou))}
