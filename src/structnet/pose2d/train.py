"""The 2D pose task wired to the engine: datasets and sample pipeline from the config, the named loss terms,
the stage checks, the reduce-on-plateau schedule, and the evaluation dataset. Training runs through
:func:`structnet.tasks.run.train` (one stage) and :func:`structnet.tasks.run.train_stages` (stages chained).

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
     "weights": float32 (K,)  1 = joint labelled and inside the crop,
     "keypoints": float32 (K, 2) crop pixel coordinates (x = column, y = row, pixel centres at integers)}

Joints count as labelled when the dataset marks them *annotated* (MPII's occluded-but-annotated joints are trained
on, as in the hourglass code). Records without a finite person window or without any annotated joint are left out.

Training stages (Ke et al. 2018, Sec. 4.1)
------------------------------------------
Each stage is one config file; :func:`structnet.tasks.run.train_stages` runs several in order and resolves ``model.init: previous``
to the previous stage's ``model.safetensors``. The paper's stages:

1. MSS-net: ``model.msr: false`` (the model has no MSR-net, so no parameter is left without a gradient, which
   DistributedDataParallel would reject), ``loss.supervise: [stacks]``.
2. MSR-net with the MSS-net fixed: ``model.msr: true``, ``model.freeze: [mss]``, ``loss.supervise: [msr]``,
   ``model.init: previous``. Weights without an MSR-net may initialise a model with one; every other mismatch is
   an error. Frozen parameters are not handed to the optimizer nor to DDP, and their BatchNorm statistics stay
   fixed (:meth:`PoseNet.freeze`).
3. All together with keypoint masking: ``model.freeze: []``, ``loss.supervise: [stacks, msr]``,
   ``data.keypoint_masking: true``, ``model.init: previous``.

Consistency checks (:func:`check_config`) refuse combinations that would train nothing or leave a trainable part
without a loss (e.g. an MSR-net that is built but neither supervised nor frozen).

Reduce on plateau (:class:`PlateauHook`)
----------------------------------------
The paper divides the learning rate by 5 "when the performance does not improve after 8 epochs". The engine's
schedules are functions of the step, so this is a task hook: with ``plateau.enabled`` the validation score
(``mean`` of :func:`evaluate_pose2d`) is computed every ``train.eval_every`` steps (set it to one epoch); after
``patience`` evaluations without an improvement larger than ``threshold`` every group's base learning rate is
divided by ``factor`` (not below ``min_lr x lr_mult``). The base rates live in the scheduler's state, so they are
checkpointed; the hook's counters are rebuilt on resume from ``out_dir/metrics.jsonl``.

Evaluation (:func:`evaluate_pose2d`)
------------------------------------
Each person is predicted by :func:`structnet.pose2d.inference.predict_pose` (the same code as ``structnet
predict``: crop, flip test, multi-scale fusion, DARK decoding) in the window of its record (or the whole image,
``window="image"``) and scored in original image pixels: PCK@0.2 normalised by the torso (LSP's ``eval_pck.m``:
``<=``, pooled mean, torso = left shoulder - right hip; persons whose torso is not measurable are skipped) with
the AUC over thresholds 0..0.2 (step 0.01), or MPII PCKh@0.5 (head normaliser, ``official`` protocol by default)
with the AUC over 0..0.5.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..data.io import image_to_tensor
from ..engine.logging import HookBase, get_logger
from ..errors import UserError
from ..keypoints.datasets import PoseDataset, PoseRecord
from ..keypoints.layouts import KeypointLayout, get_layout
from .augment import center_scale_from_box, keypoint_masking, person_crop, random_person_crop
from .codec import HeatmapCodec
from .config import DATASET_LAYOUTS, DATASETS, KeypointMaskingConfig, PlateauConfig, Pose2DConfig, Pose2DDataConfig
from .heads import FREEZE_PARTS
from .inference import WHOLE_IMAGE_PADDING
from .losses import pose2d_losses
from .model import PoseNet, build_pose_model

__all__ = ["layout_of", "load_records", "usable_records", "PoseTrainTransform", "build_train_dataset",
           "build_eval_dataset", "build_model", "make_codec", "load_init_weights", "check_config", "make_loss_fn",
           "PlateauHook", "PREVIOUS"]

from ..tasks.run import PREVIOUS  # noqa: E402  (``model.init: previous``)


# ------------------------------------------------------------------------------------------------- data
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
                 masking: Optional[KeypointMaskingConfig] = None, whole_image_prob: float = 0.0):
        self.layout = get_layout(layout)
        self.codec = codec
        self.augment = bool(augment)
        self.rotation, self.rotation_prob = float(rotation), float(rotation_prob)
        self.scale_range, self.flip_prob, self.distribution = tuple(scale_range), float(flip_prob), distribution
        self.masking = masking
        self.whole_image_prob = float(whole_image_prob)
        if not 0.0 <= self.whole_image_prob <= 1.0:
            raise ValueError(f"data.whole_image_prob must be a probability in [0, 1], got {whole_image_prob!r}")

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
        return {"image": image_to_tensor(img), "targets": {h: enc[h] for h in self.codec.keys},
                "weights": enc["weights"], "keypoints": crop.keypoints.astype(np.float32)}


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
                            whole_image_prob=cfg.whole_image_prob)
    if cfg.dataset == "synthetic":
        n = cfg.synthetic_n if cfg.max_samples is None else min(cfg.synthetic_n, cfg.max_samples)
        return _synthetic(n, cfg.synthetic_size, cfg.synthetic_seed, tf, cfg.box_padding)
    recs = usable_records(load_records(cfg.dataset, cfg.root, cfg.split, cfg.image_dir, cfg.box_padding))
    if cfg.max_samples is not None:
        recs = recs[:max(1, int(cfg.max_samples))]
    return PoseDataset(recs, tf)


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


# ------------------------------------------------------------------------------------------------ model
def _levels(cfg) -> int:
    """Number of map scales the model's outputs have (targets are needed for each)."""
    m = cfg
    return max(m.depth if m.mss else 1, m.msr_depth if (m.msr and m.msr_multiscale) else 1)


def make_codec(cfg: Pose2DConfig) -> HeatmapCodec:
    """Codec of the config: input ``data.input_size`` square, heatmaps of a quarter of it, ``data.sigma``, one
    scale per output level of the model (``1, 2, 4, 8`` for depth 4 with MSS)."""
    s = int(cfg.data.input_size)
    levels = _levels(cfg.model)
    mult = 4 * 2 ** max(cfg.model.depth, cfg.model.msr_depth if cfg.model.msr else 0)
    if s < mult or s % mult:
        raise ValueError(f"data.input_size must be a positive multiple of {mult} for depth {cfg.model.depth} "
                         f"(stride 4 x 2**depth), got {s}")
    return HeatmapCodec(input_size=(s, s), heatmap_size=(s // 4, s // 4), sigma=float(cfg.data.sigma),
                        scales=tuple(2 ** k for k in range(levels)))


def build_model(cfg: Pose2DConfig) -> PoseNet:
    """:func:`build_pose_model` of ``cfg.model`` for the joint layout of ``cfg.data.dataset`` (not frozen yet)."""
    m = cfg.model
    lay = get_layout(layout_of(cfg.data.dataset))
    return build_pose_model(lay.num_joints, stacks=m.stacks, features=m.features, depth=m.depth, mss=m.mss,
                            msr=m.msr, msr_input=m.msr_input, msr_features=m.msr_features, msr_depth=m.msr_depth,
                            msr_multiscale=m.msr_multiscale, arch=m.arch, backbone=m.backbone,
                            pretrained=m.pretrained, head_std=m.head_std)


def load_init_weights(net: PoseNet, path: Union[str, Path]) -> Dict[str, object]:
    """Initialise ``net`` from a safetensors file of a PoseNet. Tensors must match by name and shape, except that
    a file without MSR-net tensors may initialise a model with an MSR-net (stage 1 -> stage 2); the MSR-net then
    keeps its fresh initialisation. Anything else (missing stack tensors, unexpected names, other shapes) is a
    ValueError naming the file. Returns the file's metadata."""
    from ..nn.weights import load_weights, read_tensor_shapes

    p = Path(path)
    if not p.is_file():
        raise UserError(f"model.init weights not found: {p}")
    shapes = read_tensor_shapes(p)
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    unexpected = sorted(set(shapes) - set(own))
    missing = sorted(set(own) - set(shapes))
    bad = sorted(k for k in set(own) & set(shapes) if own[k] != shapes[k])
    not_msr = [k for k in missing if not k.startswith("msr.")]
    if unexpected or bad or not_msr:
        parts = []
        for what, keys in (("unexpected", unexpected), ("shape mismatch", bad), ("missing", not_msr)):
            if keys:
                parts.append(f"{what} ({len(keys)}): {', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}")
        raise UserError(f"model.init {p}: weights do not fit this model: " + "; ".join(parts))
    meta = load_weights(net, p, strict=not missing)
    if missing:
        get_logger().info(f"model.init {p}: no MSR-net in the file; MSR-net starts from its fresh initialisation")
    return meta


def check_config(cfg: Pose2DConfig) -> None:
    """Refuse stage settings that train nothing or leave trainable parameters without a loss (one-line
    ValueError naming the keys). Supervising a part the model lacks (``msr`` with ``model.msr: false``) is
    allowed and does nothing, as in :func:`~structnet.pose2d.losses.pose2d_losses`, so that ablation configs can
    differ only in their switches."""
    m, sup = cfg.model, list(cfg.loss.supervise)
    bad = [p for p in m.freeze if p not in FREEZE_PARTS]
    if bad:
        raise ValueError(f"model.freeze: unknown part(s) {bad}; valid: {', '.join(FREEZE_PARTS)}")
    bad = [p for p in sup if p not in ("stacks", "msr")]
    if bad or not sup:
        raise ValueError(f"loss.supervise must be a non-empty subset of [stacks, msr], got {sup}")
    frozen = set()
    for p in m.freeze:
        frozen |= {"all": {"stem", "stacks", "msr"}, "mss": {"stem", "stacks"}}.get(p, {p})
    if "msr" in frozen and not m.msr:
        raise ValueError("model.freeze names 'msr' but model.msr is false")
    if "stacks" in sup and "stacks" in frozen:
        raise ValueError("loss.supervise includes 'stacks' but model.freeze fixes them: their loss terms could not "
                         "train anything (stage 2 uses loss.supervise=[msr])")
    if "msr" in sup and "msr" in frozen:
        raise ValueError("loss.supervise includes 'msr' but model.freeze fixes it")
    if m.msr and "msr" not in sup and "msr" not in frozen:
        raise ValueError("model.msr is true but the MSR-net is neither supervised nor frozen: its parameters would "
                         "get no gradient (DDP fails); add msr to loss.supervise, freeze it, or set model.msr=false")
    if "stacks" not in sup and not {"stem", "stacks"} <= frozen:
        raise ValueError("loss.supervise lacks 'stacks' but the MSS-net is not frozen: it would learn only "
                         "through the MSR-net; freeze it (model.freeze=[mss]) as the paper's stage 2 does, or "
                         "supervise the stacks")
    if cfg.plateau.enabled and cfg.train.eval_every <= 0:
        raise ValueError("plateau.enabled needs train.eval_every > 0 (evaluations to watch; one epoch of steps)")
    if cfg.plateau.enabled and not (cfg.plateau.factor > 1 and cfg.plateau.patience >= 1):
        raise ValueError(f"plateau.factor must be > 1 and plateau.patience >= 1, got {cfg.plateau.factor}, "
                         f"{cfg.plateau.patience}")


def make_loss_fn(cfg: Pose2DConfig, layout: Union[str, KeypointLayout]):
    """``loss_fn(model, batch)`` for the trainer: :func:`pose2d_losses` of the model's outputs against
    ``batch["targets"]`` with ``batch["weights"]`` (terms ``ms_<part>_s<h>`` and ``struct_<part>_s<h>``)."""
    lc = cfg.loss
    lay = get_layout(layout)
    supervise = tuple(lc.supervise)

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        out = model(batch["image"])
        return pose2d_losses(out, batch["targets"], lay, batch["weights"], alpha=lc.alpha, combine=lc.combine,
                             reduction=lc.reduction, supervise=supervise)

    return loss_fn


# ------------------------------------------------------------------------------------------ plateau
class PlateauHook(HookBase):
    """Reduce-on-plateau of the base learning rates (module docstring). Watches ``metrics[key]`` (higher is
    better) after every evaluation."""

    def __init__(self, cfg: PlateauConfig, key: str = "mean"):
        self.cfg, self.key = cfg, key
        self.best = -math.inf
        self.bad = 0
        self.reductions = 0

    def _update(self, value: float) -> bool:
        """Counts ``value``; True when the learning rate is to be reduced now."""
        if value is None or not np.isfinite(value):
            self.bad += 1
        elif value > self.best + self.cfg.threshold:
            self.best, self.bad = float(value), 0
        else:
            self.bad += 1
        if self.bad >= self.cfg.patience:
            self.bad = 0
            return True
        return False

    def before_train(self, trainer) -> None:
        """Rebuild best / counter from the evaluations logged up to the resumed step (the reduced rates
        themselves come back with the scheduler state)."""
        self.best, self.bad, self.reductions = -math.inf, 0, 0
        f = Path(trainer.out_dir) / "metrics.jsonl"
        if trainer.start_step <= 0 or not f.is_file():
            return
        by_step: Dict[int, float] = {}
        for line in f.read_text().splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and int(d.get("step", -1)) <= trainer.start_step and self.key in d:
                by_step[int(d["step"])] = d[self.key]  # a repeated step (re-run after a kill): the last one
        for s in sorted(by_step):
            if self._update(by_step[s]):
                self.reductions += 1

    def after_eval(self, trainer, step: int, metrics: Dict[str, float]) -> None:
        if not self._update(metrics.get(self.key)):
            return
        sched, opt = trainer.scheduler, trainer.optimizer
        changed = []
        for i, g in enumerate(opt.param_groups):
            old = float(sched.base_lrs[i])
            new = max(old / self.cfg.factor, self.cfg.min_lr * float(g.get("lr_mult", 1.0)))
            if new < old:
                sched.base_lrs[i] = new
                g["lr"] = g["lr"] * new / old
                changed.append((old, new))
        self.reductions += 1
        if changed:
            get_logger().info(f"plateau at step {step}: no {self.key} improvement for {self.cfg.patience} "
                              f"evaluation(s); base lr {changed[0][0]:.3g} -> {changed[0][1]:.3g}")
