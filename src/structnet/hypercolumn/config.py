"""Typed configuration of the hypercolumn task (YAML files under ``structnet/configs/hypercolumn/``).

One file trains one hypercolumn network for one labelling task: ``parts`` (per-pixel part labels, a softmax over
the 7 classes of PASCAL-Person-Part per grid cell) or ``figure-ground`` (the object mask inside a box, one sigmoid
per grid cell: the paper's SDS refinement). Published values are the defaults where the paper gives them; the rest
say "ours".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional, Tuple

from ..engine.config import OptimConfig, ScheduleConfig, TrainConfig
from ..tasks.options import PredictOptions, option

__all__ = ["HypercolumnModelConfig", "HypercolumnDataConfig", "HypercolumnInferenceOptions", "HypercolumnPredictOptions",
           "HypercolumnEvalConfig", "HypercolumnScoreOptions", "HypercolumnConfig", "HypercolumnLossConfig", "TASKS",
           "EVAL_DEFAULTS"]

#: the labelling tasks and their number of classifier outputs per grid cell
TASKS = {"parts": 7, "figure-ground": 1, "keypoints": 14}


@dataclass
class HypercolumnModelConfig:
    task: Literal["parts", "figure-ground", "keypoints"] = "parts"
    backbone: str = "efficientnet_lite0"  # a registered backbone (ImageNet weights offline); the paper: AlexNet/VGG16
    pretrained: bool = True
    # the tapped layers (the paper: pool2 / conv4 / fc7, "spread out evenly in the network"); ours: EfficientNet-
    # Lite0 at strides 4, 8, 16 and its 1x1 head conv at stride 32. [head] alone = the top-layer-only baseline.
    taps: List[str] = field(default_factory=lambda: ["stage2", "stage3", "stage4", "head"])
    kernels: Optional[List[int]] = None  # n of each tap's n x n classifier (None: 3 at strides <= 8, else 1)
    global_feature: bool = True  # the top tap average-pooled over the box (fc7's role): a per-cell instance bias
    grid: int = 5  # K of the K x K grid of classifiers (the paper: 5 or 10; "a 5 x 5 grid is enough")
    input_size: int = 224  # the box is warped to this square (the paper: R-CNN's 227 / 224)
    init: Optional[str] = None  # start from these safetensors weights (same architecture)


@dataclass
class HypercolumnDataConfig:
    # a folder with images/<id>.<ext>, masks/<id>.png and <split>.txt (PASCAL-Person-Part, ECSSD, DUTS-TR-2k and
    # Weizmann horses in ../shared/data all have it); parts: mask values 0..6, figure-ground: mask > 127 = object
    root: str = "${data}/pascal-person-part"
    split: str = "train"
    # the training box: image = the whole image (what `predict --task parts` sees on a photo), object = the box of
    # the mask's pixels > 0, widened by `margin` of its size on each side (the paper's "expanded box")
    box: Literal["image", "object"] = "image"
    margin: float = 0.1
    # box jitter (ours, standing in for the paper's MCG candidates overlapping the object by >= 70 %): centre
    # shifted by N(0, jitter x side), each side scaled by exp(N(0, jitter))
    jitter: float = 0.1
    flip_prob: float = 0.5  # left-right mirror (the part labels have no left / right)
    colour: float = 0.2  # brightness and contrast jitter (ours)


@dataclass
class HypercolumnLossConfig:
    # keypoints: weight of a keypoint's positive pixel against its negatives (the paper: plain logistic loss, 1.0;
    # one positive against ~2500 negatives per map learns slowly on a CPU budget: ours, weighting it up)
    pos_weight: float = 1.0


#: per task, the dataset ``structnet eval hypercolumn`` uses when ``eval.root`` is not given: (root, split, box)
EVAL_DEFAULTS = {"parts": ("${data}/pascal-person-part", "test", "image"),
                 "figure-ground": ("${data}/ecssd", "test", "object"),
                 "keypoints": ("${data}/lspet", "val", "object")}


@dataclass
class HypercolumnInferenceOptions(PredictOptions):
    """How a box is labelled: the defaults of ``predict`` and of the ``eval`` section."""

    # test-time mirroring: the mean of the box's and the mirrored box's probabilities (ours)
    flip: bool = option(False, "test-time mirroring (mean of both probabilities)")


@dataclass(kw_only=True)
class HypercolumnPredictOptions(HypercolumnInferenceOptions):
    """The options of ``structnet predict hypercolumn`` (the Python API takes the same)."""

    task: Optional[Literal["parts", "figure-ground", "keypoints"]] = option(
        None, "labelling task (default: parts): picks its bundled model; a --model must label it. keypoints needs "
              "the person's --box", dest="target")
    box: Optional[Tuple[float, float, float, float]] = option(
        None, "x1,y1,x2,y2 in pixels: the box to label (default: the whole image; keypoints: required)", kind=float,
        count=4)


@dataclass(kw_only=True)
class HypercolumnEvalConfig(HypercolumnInferenceOptions):
    task: Optional[Literal["parts", "figure-ground", "keypoints"]] = option(
        None, "labelling task: its bundled model and its default data (parts: PASCAL-Person-Part test, whole images; "
              "figure-ground: ECSSD test in GT boxes; keypoints: LSP-extended val in the boxes of the GT joints; "
              "default: the model's task)", dest="target")
    # None: the task's default (EVAL_DEFAULTS: PASCAL-Person-Part test on whole images; ECSSD in its GT boxes)
    root: Optional[str] = option(None, "folder with images/, masks/ and <split>.txt (= --root; default: the "
                                       "task's)", flag="--data")
    split: Optional[str] = None
    box: Optional[Literal["image", "object"]] = option(
        None, "the box of each image: the whole image, or the mask's box widened by --margin (default: the task's)",
        flag="--box-kind")
    margin: float = option(0.1, "object boxes: the widening, a fraction of the box's size on each side", low=0.0,
                           high=2.0)
    max_images: Optional[int] = None


@dataclass(kw_only=True)
class HypercolumnScoreOptions:
    """The options of ``structnet score hypercolumn``."""

    task: Literal["parts", "figure-ground"] = option(
        "parts", "labelling task of the files: parts (<stem>_parts.png) or figure-ground (<stem>_mask.png)",
        dest="target")
    pred: str = option(help="folder of the files 'structnet predict hypercolumn' wrote")
    data: Optional[str] = option(None, "folder with images/, masks/ and <split>.txt (default: the task's eval data)")
    split: Optional[str] = option(None, "split file name (default test)")
    box_kind: Optional[Literal["image", "object"]] = option(
        None, "figure-ground: the region scored, the GT box widened by 10 % (object, default) or the whole image")


@dataclass
class HypercolumnConfig:
    model: HypercolumnModelConfig = field(default_factory=HypercolumnModelConfig)
    data: HypercolumnDataConfig = field(default_factory=HypercolumnDataConfig)
    loss: HypercolumnLossConfig = field(default_factory=HypercolumnLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: HypercolumnEvalConfig = field(default_factory=HypercolumnEvalConfig)
