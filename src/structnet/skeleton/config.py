"""Typed configuration of the skeleton task (YAML files under ``structnet/configs/skeleton/``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from ..engine.config import OptimConfig, ScheduleConfig, TrainConfig


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


@dataclass
class SkeletonLossConfig:
    lam: float = 1.0  # Eq. 7 (the paper does not state its value; 0 = FSDS)
    side_weight: float = 1.0  # loss weight of each side output (paper: 1)
    fuse_weight: float = 1.0
    reduction: str = "weighted_mean"  # weighted_mean | mean (Eq. 2's 1/|X|) | sum (Caffe, the paper's lr 1e-6); see losses.py


@dataclass
class SkeletonEvalConfig:
    dataset: str = "sk-large"
    root: str = "${data}/sk-large"
    split: str = "test"
    max_side: Optional[int] = None  # predict at reduced size, maps resized back to the GT size
    thresholds: int = 100
    tolerance: float = 0.01
    max_images: Optional[int] = None
    precision: str = "auto"  # inference precision: auto | float32 | bfloat16 (nn/precision.py)
    segments: bool = False  # also score object segments rebuilt from skeleton + scale (needs GT masks)
    segments_mode: str = "objects"  # objects (touching segments merged, small ones dropped) | parts (the paper's)
    min_segment_area: float = 0.05  # objects mode: drop objects under this fraction of the largest
    workers: Optional[int] = None  # processes for the matching (None: all cores)
    scales: Optional[List[float]] = None  # test-time scales, e.g. [1.0, 1.5] (None: the model's stored ones)
    flip: Optional[bool] = None  # test-time left-right flip (None: the model's stored choice)


@dataclass
class SkeletonConfig:
    model: SkeletonModelConfig = field(default_factory=SkeletonModelConfig)
    data: SkeletonDataConfig = field(default_factory=SkeletonDataConfig)
    loss: SkeletonLossConfig = field(default_factory=SkeletonLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: SkeletonEvalConfig = field(default_factory=SkeletonEvalConfig)
