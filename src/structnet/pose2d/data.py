"""Datasets of the 2D pose task from its config: records of the official formats (readers in
:mod:`structnet.keypoints.datasets`), the training sample pipeline and the evaluation dataset.

Sample pipeline (training, :class:`PoseTrainTransform`)
-------------------------------------------------------
record -> person crop of ``data.input_size`` (square) around the record's ``center`` / ``scale`` (hourglass
convention: a window of ``200 * scale`` px; LSP: the box of the annotated joints enlarged 1.25x), randomly rotated
(+-30 degrees with probability 0.4), scaled (window x 0.75-1.25) and flipped (p = 0.5, left/right joints swapped)
when ``data.augment`` (:func:`~structnet.pose2d.augment.random_person_crop`) -> keypoint masking when
``data.keypoint_masking`` (:func:`~structnet.pose2d.augment.keypoint_masking`, in the crop) -> targets by the
:class:`~structnet.pose2d.codec.HeatmapCodec` (Gaussians of sigma 1 px at every map scale). The item is::

    {"image": float32 (3, S, S) RGB in [0, 1],
     "targets": {h: float32 (K, h, h) for every map height h (64, 32, 16, 8 for S = 256)},
     "weights": float32 (K,)  1 = joint labelled and inside the crop; the others data.absent_weight
                              (their targets are all-zero maps: "this joint is not in the crop"),
     "keypoints": float32 (K, 2) crop pixel coordinates (x = column, y = row, pixel centres at integers)}

Joints count as labelled when the dataset marks them *annotated* (MPII's occluded-but-annotated joints are trained
on, as in the hourglass code). Records without a finite person window or without any annotated joint are left out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..data.io import image_to_tensor
from ..keypoints.datasets import PoseDataset, PoseRecord
from ..keypoints.layouts import KeypointLayout, get_layout
from .augment import center_scale_from_box, keypoint_masking, person_crop, random_person_crop
from .codec import HeatmapCodec
from .config import DATASET_LAYOUTS, DATASETS, KeypointMaskingConfig, Pose2DConfig, Pose2DDataConfig
from .inference import WHOLE_IMAGE_PADDING

__all__ = ["layout_of", "load_records", "usable_records", "PoseTrainTransform", "build_train_dataset",
           "build_person_dataset", "build_eval_dataset"]


def layout_of(dataset: str) -> str:
    """Joint layout name of a dataset name (``lspet`` / ``lsp-mat`` / ``synthetic``: lsp14, ``mpii``: mpii16,
    ``coco``: coco17)."""
    if dataset not in DATASET_LAYOUTS:
        raise ValueError(f"unknown pose2d dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    return DATASET_LAYOUTS[dataset]


def load_records(dataset: str, root: str, split: str, image_dir: Optional[str] = None,
                 padding: float = 1.25) -> List[PoseRecord]:
    """Person records of a real dataset (:mod:`structnet.keypoints.datasets` readers). ``root``: the LSPET folder
    (``lspet``: train / val / all), an MPII annotation file (``mpii``: .npz / .h5 hold one split each and ignore
    ``split``; pytorch-pose .json: all / train / valid; HRNet / mmpose .json hold one split: ``all``; .mat:
    train / test / all), a COCO keypoints json (``coco``: one split per file, ``split`` ignored) or an LSP
    ``joints.mat`` (``lsp-mat``: all / train / test)."""
    from ..keypoints.datasets import coco_to_records, read_lsp_mat, read_lspet, read_mpii

    layout_of(dataset)
    if dataset == "lspet":
        return read_lspet(root, split, padding=padding)
    if dataset == "lsp-mat":
        return read_lsp_mat(root, image_dir, split=split, padding=padding)
    if dataset == "mpii":
        suffix = Path(root).suffix.lower()
        if suffix not in (".json", ".mat"):
            return read_mpii(root, image_dir=image_dir)
        return read_mpii(root, image_dir=image_dir, split=None if (suffix == ".json" and split == "all") else split)
    if dataset == "coco":
        return coco_to_records(root, image_dir, padding=padding)
    raise ValueError("load_records: the synthetic dataset has no files; use build_train_dataset / "
                     "build_eval_dataset")


def usable_records(records: Sequence[PoseRecord], need_images: bool = True) -> List[PoseRecord]:
    """Records with a finite person window (centre and scale > 0) and at least one annotated joint; with
    ``need_images`` a ValueError when the source has no image paths (annotation-only, e.g. MPII without
    ``image_dir``)."""
    out = [r for r in records if np.isfinite(r.center).all() and np.isfinite(r.scale) and r.scale > 0
           and bool(np.asarray(r.annotated).any())]
    if not out:
        raise ValueError("no usable person records (none has a person window and an annotated joint)")
    if need_images and out[0].image_path is None:
        raise ValueError(f"the records of {out[0].name!r} have no image paths: set data.image_dir / "
                         f"eval.image_dir to the image folder")
    return out


class PoseTrainTransform:
    """``transform(sample, rng)`` of training (module docstring): crop with augmentation, optional keypoint
    masking, heatmap targets. Picklable (DataLoader workers). ``masking``: None = off."""

    def __init__(self, layout: Union[str, KeypointLayout], codec: HeatmapCodec, augment: bool = True,
                 rotation: float = 30.0, rotation_prob: float = 0.4, scale_range: Tuple[float, float] = (0.75, 1.25),
                 flip_prob: float = 0.5, distribution: str = "uniform",
                 masking: Optional[KeypointMaskingConfig] = None, whole_image_prob: float = 0.0,
                 absent_weight: float = 0.0):
        self.layout = get_layout(layout)
        self.codec = codec
        self.augment = bool(augment)
        self.rotation, self.rotation_prob = float(rotation), float(rotation_prob)
        self.scale_range, self.flip_prob, self.distribution = tuple(scale_range), float(flip_prob), distribution
        self.masking = masking
        self.whole_image_prob = float(whole_image_prob)
        if not 0.0 <= self.whole_image_prob <= 1.0:
            raise ValueError(f"data.whole_image_prob must be a probability in [0, 1], got {whole_image_prob!r}")
        self.absent_weight = float(absent_weight)
        if not (np.isfinite(self.absent_weight) and self.absent_weight >= 0.0):
            raise ValueError(f"data.absent_weight must be finite and >= 0, got {absent_weight!r}")

    def _window(self, image: np.ndarray, sample: Dict[str, Any], rng: np.random.Generator):
        """The person window (``center``, ``scale``) of the record, or with probability ``whole_image_prob`` the
        whole-image window that inference uses without a box (no random number is drawn when it is 0, so
        person-window-only streams stay as they were)."""
        if self.whole_image_prob > 0.0 and rng.random() < self.whole_image_prob:
            h, w = image.shape[:2]
            return center_scale_from_box((-0.5, -0.5, w - 0.5, h - 0.5), padding=WHOLE_IMAGE_PADDING)
        return sample["center"], float(sample["scale"])

    def __call__(self, sample: Dict[str, Any], rng: np.random.Generator) -> Dict[str, Any]:
        image = sample.get("image")
        if image is None:
            raise ValueError(f"pose sample {sample.get('name')!r} has no image (annotation-only source)")
        kp, vis = sample["keypoints"], sample["annotated"]
        size = self.codec.input_size
        center, scale = self._window(image, sample, rng) if self.augment else (sample["center"], sample["scale"])
        if self.augment:
            crop = random_person_crop(image, kp, vis, center, float(scale), rng, self.layout,
                                      out_size=size, rotation_max=self.rotation, rotation_prob=self.rotation_prob,
                                      scale_range=self.scale_range, flip_prob=self.flip_prob,
                                      distribution=self.distribution)
        else:
            crop = person_crop(image, kp, vis, sample["center"], float(sample["scale"]), out_size=size,
                               flip_pairs=self.layout)
        img, visible = crop.image, crop.visible
        if self.masking is not None:
            m = self.masking
            res = keypoint_masking(img, crop.keypoints, visible, rng, patch_frac=m.patch_frac,
                                   occlusion_prob=m.occlusion_prob, distractor_prob=m.distractor_prob,
                                   distractor_distance=tuple(m.distractor_distance),
                                   keep_occluded_visible=m.keep_occluded_visible)
            img, visible = res.image, res.visible
        enc = self.codec.encode(crop.keypoints, visible)
        weights = enc["weights"]
        if self.absent_weight > 0.0:  # the codec's maps of unsupervised joints are already all zero
            weights = np.where(weights > 0, weights, np.float32(self.absent_weight)).astype(np.float32)
        return {"image": image_to_tensor(img), "targets": {h: enc[h] for h in self.codec.keys},
                "weights": weights, "keypoints": crop.keypoints.astype(np.float32)}


def _synthetic(n: int, size: int, seed: int, transform=None, padding: float = 1.25):
    from .synthetic import SyntheticPoseDataset

    return SyntheticPoseDataset(n, size=size, seed=seed, transform=transform, padding=padding)


def build_train_dataset(cfg: Pose2DDataConfig, codec: HeatmapCodec) -> PoseDataset:
    """The training dataset of ``data`` with a :class:`PoseTrainTransform` (augmentation per the config)."""
    layout = layout_of(cfg.dataset)
    tf = PoseTrainTransform(layout, codec, augment=cfg.augment, rotation=cfg.rotation,
                            rotation_prob=cfg.rotation_prob, scale_range=tuple(cfg.scale_range),
                            flip_prob=cfg.flip_prob, distribution=cfg.distribution,
                            masking=cfg.masking if cfg.keypoint_masking else None,
                            whole_image_prob=cfg.whole_image_prob, absent_weight=cfg.absent_weight)
    if cfg.dataset == "synthetic":
        n = cfg.synthetic_n if cfg.max_samples is None else min(cfg.synthetic_n, cfg.max_samples)
        return _synthetic(n, cfg.synthetic_size, cfg.synthetic_seed, tf, cfg.box_padding)
    recs = usable_records(load_records(cfg.dataset, cfg.root, cfg.split, cfg.image_dir, cfg.box_padding))
    if cfg.max_samples is not None:
        recs = recs[:max(1, int(cfg.max_samples))]
    return PoseDataset(recs, tf)


def build_person_dataset(cfg: Pose2DDataConfig) -> PoseDataset:
    """The training dataset of a person-box model (``model.arch: person_box``): the persons of ``data`` with a
    :class:`~structnet.pose2d.person.PersonBoxTransform` (whole photos with probability ``data.whole_image_prob``,
    ``data.input_size`` square input, flips with ``data.flip_prob`` when ``data.augment``), followed by the persons
    of the PASCAL-Person-Part folder ``data.person_extra`` when set."""
    from ..data.keys import ConcatKeyed
    from .person import PascalPersonBoxes, PersonBoxTransform

    if cfg.dataset == "synthetic":
        raise ValueError("a person-box model trains on photos with annotated joints (lspet, mpii, coco, lsp-mat)")
    tf = PersonBoxTransform(cfg.input_size, augment=cfg.augment, whole_image_prob=cfg.whole_image_prob,
                            flip_prob=cfg.flip_prob)
    recs = [r for r in usable_records(load_records(cfg.dataset, cfg.root, cfg.split, cfg.image_dir, cfg.box_padding))
            if int(np.asarray(r.annotated).sum()) >= 2]
    if cfg.max_samples is not None:
        recs = recs[:max(1, int(cfg.max_samples))]
    extra = PascalPersonBoxes(cfg.person_extra, "train", tf) if cfg.person_extra else None
    return ConcatKeyed(PoseDataset(recs, tf), extra) if extra is not None else PoseDataset(recs, tf)


def build_eval_dataset(cfg: Pose2DConfig, max_images: Optional[int] = None) -> PoseDataset:
    """Raw samples (no transform) of ``cfg.eval``'s dataset for :func:`evaluate_pose2d`. The synthetic eval split
    is ``max(16, data.synthetic_n // 4)`` figures (or ``max_images``) of ``data.synthetic_size`` px drawn with
    seed ``data.synthetic_seed + 1`` (disjoint from the training figures)."""
    e, d = cfg.eval, cfg.data
    if e.dataset == "synthetic":
        n = max(16, d.synthetic_n // 4) if max_images is None else int(max_images)
        return _synthetic(n, d.synthetic_size, d.synthetic_seed + 1, None, d.box_padding)
    recs = usable_records(load_records(e.dataset, e.root, e.split, e.image_dir, d.box_padding))
    if max_images is not None:
        recs = recs[:max(1, int(max_images))]
    return PoseDataset(recs, None)
