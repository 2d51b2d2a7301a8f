"""Typed configuration of the extraction task (YAML files under ``structnet/configs/extraction/``).

One file trains the pair of networks (localization, segmentation) with one E-step: ``latent.search: none`` (the
paper's "Ours(sim)": the two nets trained separately, every adjustment 0), ``mcmc`` (the paper's joint training,
K Metropolis-Hastings moves) or ``exhaustive`` (all 625 adjustments). Published values are the defaults where the
paper gives them; the rest say "ours".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional

from ..engine.config import OptimConfig, ScheduleConfig, TrainConfig
from ..tasks.options import PredictOptions, option

__all__ = ["ExtractionModelConfig", "ExtractionDataConfig", "LatentConfig", "ExtractionLossConfig",
           "ExtractionInferenceOptions", "ExtractionPredictOptions", "ExtractionEvalConfig", "ExtractionScoreOptions",
           "ExtractionConfig"]


@dataclass
class ExtractionModelConfig:
    # paper: AlexNet-like localization net (224 input) + the 4-conv / 1-FC segmentation net (55 -> 50), from scratch
    # here (no offline AlexNet weights); lite (ours): EfficientNet-Lite0 with ImageNet weights for both nets
    arch: Literal["lite", "paper"] = "lite"
    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    loc_input: int = 160  # the whole image is resized to this square (the paper: 224)
    seg_input: int = 64  # the box crop is resized to this square (the paper: 55)
    mask_size: int = 50  # the segmentation net's output m x m (the paper: 50 x 50)
    width: float = 1.0  # paper arch only: channel multiplier (1.0 = the paper's widths)
    hidden: int = 256  # lite: width of the localization net's fully connected layers
    init: Optional[str] = None  # start from these safetensors weights (same architecture)


@dataclass
class ExtractionDataConfig:
    # a folder with images/<id>.<ext>, masks/<id>.png (> 127 = object) and <split>.txt (DUTS-TR-2k, ECSSD, Weizmann
    # horses in ../shared/data)
    root: str = "${data}/duts-tr-2k"
    split: str = "train"
    # every holdout-th id (the 10th, 20th, ...) is left out of training: the validation images (`structnet eval
    # extraction --data DIR --holdout 10`); 0 = train on all ids
    holdout: int = 10
    image_size: int = 256  # training images (and masks) are resized to this square: crops come from it
    flip_prob: float = 0.5
    colour: float = 0.2  # brightness and contrast jitter (ours)
    # random crop (ours): with probability crop_prob, a window whose width and height are each a uniform fraction
    # in [crop_min, 1] of the square (independently: the aspect ratio changes too), placed uniformly, is cut out
    # and resized back to the square; the box and mask targets follow. 0 = the paper's fixed framing.
    crop_prob: float = 0.0
    crop_min: float = 0.7


@dataclass
class LatentConfig:
    search: Literal["none", "mcmc", "exhaustive"] = "mcmc"
    steps: List[float] = field(default_factory=lambda: [-10.0, -5.0, 0.0, 5.0, 10.0])  # per coordinate, in units
    moves: int = 20  # K, Metropolis-Hastings moves per image and E-step
    edge_points: int = 200  # c, points along the box edges of the data-driven term
    pc_floor: float = 0.01  # the data-driven term's floor (ours: keeps every adjustment reachable)
    superpixels: int = 200  # SLIC segments per training image
    compactness: float = 10.0
    sigma0: float = 10.0  # proposal std (units) before an image has optimal adjustments from earlier E-steps
    temperature: float = 1.0  # pi ~ exp(-cost / T) (1: the paper's probabilities)
    start_iter: int = 0  # E-steps begin at this optimizer step (before: adjustments 0, as separate training)
    chunk: int = 32  # crops per segmentation forward in the E-step (32: fastest on one CPU core)


@dataclass
class ExtractionLossConfig:
    loc_weight: float = 1.0  # the localization term (squared error of the box in units, / 224^2 per coordinate)
    seg_weight: float = 1.0  # the segmentation term (pixel-wise logistic loss, mean over the m x m mask)


@dataclass
class ExtractionInferenceOptions(PredictOptions):
    """How a box and mask are extracted from an image: the defaults of ``predict`` and of the ``eval`` section."""

    threshold: float = option(0.5, "foreground where the probability > this (the paper: 0.5)", low=0.0, high=1.0)
    # passes re-segmenting the mask's box widened by refine_margin (ours; 0 = the paper's inference); refine and its
    # margin chosen on DUTS-TR-2k val
    refine: int = option(1, "passes that re-segment the tight box of the mask widened by --refine-margin (chosen on "
                            "DUTS-TR-2k val; 0 = the paper's single pass)", low=0, high=10)
    refine_margin: float = option(6.0, "that widening in units of 1/224 of the image side", low=0.0, high=112.0)
    relocate: int = option(1, "passes of the localization net on the window of its own box (chosen on DUTS-TR-2k "
                              "val; 0 = the paper's single look)", low=0, high=10)
    relocate_context: float = option(0.08, "that window: the box widened by this fraction of its size on each side",
                                     low=0.0, high=2.0)
    flip_seg: bool = option(True, "masks averaged with the mirrored crop's (chosen on DUTS-TR-2k val; "
                                  "--no-flip-seg: from the crop alone, the paper's)")
    flip: bool = option(False, "test-time mirroring: box and mask averaged with the mirrored image's (2x the time; "
                               "with the bundled model no gain over flip_seg)")


@dataclass
class ExtractionPredictOptions(ExtractionInferenceOptions):
    """The options of ``structnet predict extraction`` (the Python API takes the same)."""

    prob: bool = option(False, "also write <name>_prob.png (8-bit probability)")


@dataclass
class ExtractionEvalConfig(ExtractionInferenceOptions):
    root: Optional[str] = option("${data}/ecssd", "folder with images/, masks/ and <split>.txt (= --root)",
                                 flag="--data")
    split: str = "test"
    holdout: int = option(0, "only every N-th id of the split (0: all): the validation ids that data.holdout = N "
                             "leaves out of training", low=0)
    images: Optional[str] = option(None, "or: a folder of images (with --masks: <image stem>.png each)")
    masks: Optional[str] = option(None, "... and a folder of ground-truth masks (> 127 = object)")
    max_images: Optional[int] = None


@dataclass
class ExtractionScoreOptions:
    """The options of ``structnet score extraction``."""

    pred: str = option(help="folder of the files 'structnet predict extraction' wrote")
    images: Optional[str] = option(None, "folder of the images predicted (with --masks)")
    masks: Optional[str] = option(None, "folder of ground-truth masks named <image stem>.png")
    data: Optional[str] = option(None, "or: folder with images/, masks/ and <split>.txt (default: the eval "
                                       "section's, ECSSD)")
    split: Optional[str] = option(None, "split file name (default: the eval section's, test)")
    holdout: Optional[int] = option(None, "only every N-th id of the split", kind=int, low=0)


@dataclass
class ExtractionConfig:
    model: ExtractionModelConfig = field(default_factory=ExtractionModelConfig)
    data: ExtractionDataConfig = field(default_factory=ExtractionDataConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    loss: ExtractionLossConfig = field(default_factory=ExtractionLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: ExtractionEvalConfig = field(default_factory=ExtractionEvalConfig)
