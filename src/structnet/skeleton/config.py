"""Typed configuration of the skeleton task (YAML files under ``structnet/configs/skeleton/``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional

from ..engine.config import OptimConfig, ScheduleConfig, TrainConfig
from ..tasks.options import MAX_SCALE, MIN_SCALE, PredictOptions, option


@dataclass
class SkeletonModelConfig:
    method: str = "lmsds"  # lmsds | fsds | hed
    backbone: str = "efficientnet_lite0"  # any registered backbone (structnet.backbones.list_backbones())
    pretrained: bool = True  # ImageNet weights for the backbone (offline sources only)
    taps: Optional[List[str]] = None  # None: all taps but the first (LMSDS/FSDS), all taps (HED)
    rho: float = 1.2  # Eq. 1
    beyond: str = "clamp"  # scales beyond the last field: clamp (class M) | ignore
    side_init: str = "zero"  # side-output init (paper: 0)
    freeze_bn: bool = True  # keep the backbone's BatchNorm statistics fixed while training (small batches)
    init: Optional[str] = None  # start from these safetensors weights (same architecture), e.g. to fine-tune


@dataclass
class SkeletonDataConfig:
    dataset: str = "sk-large"  # sk-large | weizmann-horse | synthetic
    root: str = "${data}/sk-large"
    split: str = "train"
    augment: bool = True  # the paper's 4 rotations x 3 flips x 3 resize factors, sampled on the fly
    max_side: Optional[int] = None  # resize so the longer side is at most this (scales multiplied)
    factors: Optional[List[float]] = None  # resize factors of the augmentation (None: the paper's 0.8, 1.0, 1.2)
    crop: Optional[int] = None  # random square crop (padded if smaller) so batches stack; None = whole image
    synthetic_n: int = 256  # number of images of the synthetic dataset
    synthetic_size: int = 96
    cache_dir: Optional[str] = None  # where mask-derived skeleton GT is cached (never inside ../shared)
    # distillation (loss.distill_weight > 0): the --out folder of 'structnet predict skeleton --tta' over the training
    # photos and the unlabelled folders (one <name>_skeleton.npz per photo)
    teacher: Optional[str] = None
    unlabelled: Optional[List[str]] = None  # photo folders without annotation, trained on the teacher's maps only


@dataclass
class SkeletonLossConfig:
    lam: float = 1.0  # Eq. 7 (the paper does not state its value; 0 = FSDS)
    side_weight: float = 1.0  # loss weight of each side output (paper: 1)
    fuse_weight: float = 1.0
    reduction: str = "weighted_mean"  # weighted_mean | mean (Eq. 2's 1/|X|) | sum (Caffe, the paper's lr 1e-6); see losses.py
    distill_weight: float = 0.0  # weight of the soft fused-output loss against data.teacher's maps (0: no teacher)


@dataclass
class SkeletonInferenceOptions(PredictOptions):
    """How maps, skeletons and segments are computed from an image: the defaults of ``predict`` and of the ``eval``
    section. None: the model's stored setting (its weights' metadata)."""

    max_side: Optional[int] = option(None, "run the network and post-processing at this longer side; maps come back "
                                           "at the input's size (default: the longer side the model was trained at, "
                                           "stored in its weights; full size for weights without it)",
                                     kind=int, low=1)
    segments_mode: Literal["objects", "parts"] = option(
        "objects", "objects: segments whose regions touch are one object, small objects dropped, skeleton pieces of "
                   "an object joined; parts: the paper's one segment per skeleton piece")
    min_segment_area: float = option(0.05, "objects mode: drop objects smaller than this fraction of the largest "
                                           "(chosen on the Weizmann train split)", low=0.0, high=1.0)
    scales: Optional[List[float]] = option(None, "test-time scales, comma-separated factors of the network's input "
                                                 "size (the maps of the enlarged copies are averaged), e.g. 1 or "
                                                 "1,1.5 (default: the model's stored scales)",
                                           kind=float, low=MIN_SCALE, high=MAX_SCALE, many=True)
    flip: Optional[bool] = option(None, "also average the maps of left-right mirrored inputs (default: the model's "
                                        "stored choice)")
    tta: Optional[bool] = option(None, "--tta: the six-pass mode (scales 1, 1.5, 2, each also mirrored: the "
                                       "ensemble a one-pass model is distilled from); --no-tta: one pass; --scales "
                                       "and --flip, where given, win (default: the model's stored choice)")


@dataclass(kw_only=True)
class SkeletonMatchOptions:
    """How predicted maps are matched to the ground truth (skeval protocol): ``eval`` and ``score``."""

    thresholds: int = option(100, "number of thresholds", low=2)
    tolerance: float = option(0.01, "match distance as a fraction of the image diagonal", low=0.0, low_open=True,
                              high=1.0)
    workers: Optional[int] = option(None, "processes for the matching (default: all cores)", kind=int, low=0)


@dataclass(kw_only=True)
class SkeletonPredictOptions(SkeletonInferenceOptions):
    """The options of ``structnet predict skeleton`` (the Python API takes the same)."""

    threshold: Optional[float] = option(None, "binarisation threshold for thin skeletons and segments (default: the "
                                              "model's ODS threshold)", kind=float, low=0.0, high=1.0)


@dataclass(kw_only=True)
class SkeletonEvalConfig(SkeletonMatchOptions, SkeletonInferenceOptions):
    dataset: str = "sk-large"
    root: str = "${data}/sk-large"
    split: str = "test"
    max_images: Optional[int] = None
    segments: bool = option(False, "also score object segments rebuilt from skeleton + scale (needs GT masks)")


@dataclass(kw_only=True)
class SkeletonScoreOptions(SkeletonMatchOptions):
    """The options of ``structnet score skeleton``."""

    pred: str = option(help="folder of 8- or 16-bit grey PNG maps named like the GT stems (a _skeleton suffix is "
                            "accepted)")
    gt: str = option(help="folder of GT: PNG scale maps, binary skeleton PNGs or .mat files")
    nms: bool = option(True, "non-maximum suppression of the maps (--no-nms: maps already thin)")
    plot: Optional[str] = option(None, "write a PR-curve PNG here")


@dataclass
class SkeletonConfig:
    model: SkeletonModelConfig = field(default_factory=SkeletonModelConfig)
    data: SkeletonDataConfig = field(default_factory=SkeletonDataConfig)
    loss: SkeletonLossConfig = field(default_factory=SkeletonLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: SkeletonEvalConfig = field(default_factory=SkeletonEvalConfig)
