"""Typed configuration of the 3D pose task (YAML files under ``structnet/configs/pose3d/``).

One file trains one *lifter*: 2D joints -> skeleton maps (one per hypothesis) -> 3D joints (Wan et al. 2017,
Sec. 3.2-3.4, with the maps rendered from 2D joints), or the keypoint-MLP baseline of
Martinez et al. 2017 (``model.kind: keypoints``). Published values are the defaults where the paper gives them;
the rest say "ours".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional, Tuple

from ..engine.config import OptimConfig, ScheduleConfig, TrainConfig
from ..tasks.options import PredictOptions, option

__all__ = ["Pose3DModelConfig", "Pose3DDataConfig", "Pose3DLossConfig", "Pose3DLiftOptions", "Pose3DPredictOptions",
           "Pose3DEvalConfig", "Pose3DConfig"]


@dataclass
class Pose3DModelConfig:
    # skeleton-map regression (the paper) | Martinez et al.'s MLP | the image -> skeleton-map network (Sec. 3.2,
    # trained on synthetic people: structnet.pose3d.maps_net / synthetic; widths, map_size, box_scale must be those
    # of the lifter whose maps it draws)
    kind: Literal["maps", "keypoints", "image"] = "maps"
    # one regression network per hypothesis (Sec. 3.3): its stick width in map pixels and its crop scale (the box
    # of the 2D joints x box_scale x crop). The paper varies widths (Mul-S) and crops (Mul-C; indoors always 1.0);
    # its width values did not survive in our copy of the paper (ours: 2, 4, 6 px of a 64 map, i.e. ~3-9 % of the
    # person's height). Equal widths = the paper's "Ensemble" baseline (independent networks on one map kind).
    widths: List[float] = field(default_factory=lambda: [4.0])
    crops: Optional[List[float]] = None  # per hypothesis (None: 1.0 for each)
    map_size: int = 64  # square skeleton maps (the paper's deconvolution outputs 56 x 56; ours: 64)
    box_scale: float = 1.2  # crop side = box_scale x the longer side of the 2D joints' box (ours)
    depth_order: bool = True  # front/back maps by the z-buffer (Sec. 3.2 "Deal with occlusion"); False: one order
    regressor_width: int = 32  # MapRegressor stem channels (ours; the paper: ResNet-50)
    hidden: int = 1024  # units of the regression head / of Martinez's MLP
    dropout: float = 0.25  # MapRegressor head (ours); the keypoint MLP uses Martinez's 0.5 when kind=keypoints
    init: Optional[str] = None  # start from these safetensors weights (same architecture)
    # kind=image only: the encoder (a registered backbone with taps at strides 4-32; ImageNet weights offline)
    # and the decoder's channels (ours; the paper: ResNet-50)
    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    features: int = 64
    # training only (not stored with the weights): draw the maps with a torch.compile'd renderer (identical maps,
    # ~6x faster on this CPU; falls back to the plain renderer where compiling fails)
    compile_renderer: bool = True


@dataclass
class Pose3DDataConfig:
    root: str = "${data}/h36m"  # a folder in the 3d-pose-baseline layout (poses3d.npz, cameras.json)
    subjects: List[str] = field(default_factory=lambda: ["S1", "S5", "S6", "S7", "S8"])  # the standard protocol
    every: int = 1  # keep every n-th stored frame (the stored data are already every 5th frame, 10 Hz)
    flip_prob: float = 0.5  # left-right mirror of 2D and 3D (ours; the paper uses no augmentation)
    noise_px: float = 0.0  # Gaussian 2D noise (sigma, pixels of the 1000-px frames) on the training joints (ours)
    # detector-like outliers (ours): each training joint is, with probability outlier_prob, moved by a further
    # Gaussian of sigma outlier_sigma x the person box side (a 2D detector's misses: ~10 % of joints off by more
    # than half a head at MPII's PCKh 0.9)
    outlier_prob: float = 0.0
    outlier_sigma: float = 0.1
    # the 2D input of a training sample is, with this probability, the frame's Stacked Hourglass detection (mapped to
    # the 17 joints as at test time, joints.sh_to_h36m), else the projected GT joints (Martinez et al. train on the
    # detections; 0: GT 2D only, 1: detections only). Needs the detections of every training sequence
    # (detections_sh_train.npz). Maps of a detection are ordered by the frame's GT camera depths, as GT 2D's are
    sh_prob: float = 0.0
    no_order_prob: float = 0.0  # fraction of training maps drawn without depth order (front = back), so one
    #                             network also reads order-free maps (2D detections; ours)
    # kind=image: photos the synthetic people stand in front of (a folder of images; None: plain grey), and the
    # jitter of the person crop (centre N(0, jitter x side), side x exp(N(0, jitter))) so that the network draws
    # the maps of people its box does not centre exactly
    backgrounds: Optional[str] = "${data}/duts-tr-2k/images"
    jitter: float = 0.05
    # kind=image: real photos with 2D joints (an LSP-extended folder, its train split; people whose 14 joints are
    # all annotated), drawn with probability real_prob: their maps are drawn from the 2D joints without depth
    # order, and the pixels where two parts' sticks overlap (whose front / back colour the 2D joints cannot tell)
    # do not count in the loss (ours: the appearance of real people, which capsule people lack)
    real_root: Optional[str] = None
    real_prob: float = 0.0


@dataclass
class Pose3DLossConfig:
    kind: Literal["mse", "mpjpe"] = "mse"  # Caffe's Euclidean loss (mean squared error, in metres) | mean distance


@dataclass
class Pose3DLiftOptions:
    """How 2D joints are lifted: the defaults of ``predict`` and of the ``eval`` section."""

    # test-time mirroring: each hypothesis the mean of its pose and the mirrored pose of the mirrored 2D joints (ours;
    # the paper has none; docs/pose3d.md has the bundled lifter's MPJPE with and without); 2x the time
    flip: bool = option(True, "test-time mirroring: each pose averaged with the mirrored pose of the mirrored 2D "
                              "joints (2x the time; --no-flip: the plain model; predict: no effect with --maps-model)")
    # other lifters (bundled names or weights files) whose chosen poses are averaged with the model's, equal weights
    # (ours; the paper ensembles regressors of one kind, its Table 9). The skeleton-map lifter with
    # keypoint_lifter_h36m: docs/pose3d.md, "Results: 3D pose". eval's JSON keeps each member's own MPJPE
    ensemble: List[str] = option([], "another lifter (bundled name or weights file; repeat the option for more) "
                                     "lifting the same 2D joints; the 3D pose is the mean of every lifter's chosen "
                                     "pose (eval: inputs gt2d / sh)", repeat=True, metavar="LIFTER")


@dataclass(kw_only=True)
class Pose3DPredictOptions(Pose3DLiftOptions, PredictOptions):
    """The options of ``structnet predict pose3d`` (the Python API takes the same)."""

    pose2d_model: Optional[str] = option(None, "2D pose model (bundled name or weights file) whose LSP joints are "
                                               "lifted (default: the bundled pose2d model)")
    box: Optional[Tuple[float, float, float, float]] = option(
        None, "person box x1,y1,x2,y2 in pixels for the 2D model (default: found)", kind=float, count=4)
    maps_model: Optional[str] = option(None, "image -> skeleton-map network (bundled name, e.g. skeleton_map_net_h36m, "
                                             "or weights file) that draws the maps from the photo, the paper's "
                                             "pipeline (default: none, the maps are drawn from the pose2d joints, "
                                             "which gave the more plausible poses on LSP-extended photos; docs/pose3d.md)")
    # an image is a person when the 2D model finds at least this many of its 14 joints with score >= 0.2; with the
    # bundled pose2d model and its person window: 97.6 % of the LSPET val persons have 6 (98.9 % have 4); on the
    # scikit-image samples the astronaut 8, the cameraman 6, a coffee cup 5
    min_joints: int = option(6, "no 3D pose for an image where the 2D model finds fewer of its 14 joints (score >= "
                                "0.2): no person (0: lift whatever it finds)", low=0, high=14)
    # the lifters regress the whole body from the hip (the root): a photo where the 2D model's visibility flags show
    # fewer of the 6 hips, knees and ankles (an upper-body portrait) gets a one-line refusal, not a guessed pair of
    # legs. With the bundled pose2d model on the 1000 LSPET val persons, 3 refuses 4.0 % of those with all 6 leg
    # joints annotated and 39 % of the 18 with at most 2 (4: 9.3 % and 61 %); the demo's astronaut shows 2. Needs a
    # 2D model with visibility flags (others: no check)
    min_leg_joints: int = option(3, "no 3D pose for an image where the 2D model's visibility flags show fewer of "
                                    "the 6 hips, knees and ankles (an upper-body photo; 0: lift anyway)",
                                 low=0, high=6)


@dataclass(kw_only=True)
class Pose3DEvalConfig(Pose3DLiftOptions):
    root: str = option("${data}/h36m", "Human3.6M folder in the 3d-pose-baseline layout (= --root)", flag="--data")
    subjects: List[str] = option(["S9", "S11"], "comma-separated test subjects", words=True)
    # 2D joints: projected GT | Stacked Hourglass detections | synthetic: images of capsule people rendered from the
    # test poses (real cameras, ``backgrounds`` behind them) -> maps_model -> the lifter's regressors
    input: Literal["gt2d", "sh", "synthetic"] = option(
        "gt2d", "2D input: projected ground truth or the Stacked Hourglass detections; synthetic: capsule people "
                "rendered from the test poses -> --maps-model -> the lifter")
    maps_model: Optional[str] = option(None, "--input synthetic: the image -> maps network (default: the bundled "
                                             "skeleton_map_net_h36m)")
    backgrounds: Optional[str] = option("${data}/ecssd/images", "--input synthetic: folder of background photos "
                                                                "(not the training ones)")
    # depth order of the maps: gt (the GT depths: the paper's "GT skeleton map"), estimated (a first pass without
    # order, then maps ordered by its depths), none (front = back); auto: gt for gt2d, estimated for sh
    depth_order: Literal["auto", "gt", "estimated", "none"] = option(
        "auto", "depth order of the maps (auto: gt for gt2d, estimated for sh)")
    every: int = option(1, "every n-th stored frame", low=1)
    batch_size: int = 512
    # input sh: remove the detector's systematic per-joint offsets from the detected joints (MPII vs Human3.6M joint
    # definitions, e.g. the feet and neck; joints.fit_detection_offsets) before lifting. cross-subject: the offsets of
    # each evaluated subject are fitted on the detections and projected GT of every *other* subject with detections
    # in the folder (with ../shared/data/h36m: the five training subjects and the other test subject); the evaluated
    # subject's own detections and GT never enter the fit. For lifters not trained on detections (ours).
    sh_offsets: Literal["none", "cross-subject"] = option(
        "none", "--input sh: remove the detector's per-joint offsets, fitted on every other subject's detections "
                "(the evaluated subject never enters its own fit)")
    # draw the maps with a torch.compile'd renderer: the same maps, ~6x faster over the 10^5 test frames, after a
    # compile of ~30 s. null (auto): the plain renderer until it has drawn for render.COMPILE_AFTER_SECONDS, then
    # the compiled one (a short run never compiles); true: compiled from the start; false: never
    compile_renderer: Optional[bool] = None
    max_images: Optional[int] = None  # sequences (subject / sequence / camera) evaluated


@dataclass
class Pose3DConfig:
    model: Pose3DModelConfig = field(default_factory=Pose3DModelConfig)
    data: Pose3DDataConfig = field(default_factory=Pose3DDataConfig)
    loss: Pose3DLossConfig = field(default_factory=Pose3DLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: Pose3DEvalConfig = field(default_factory=Pose3DEvalConfig)
