"""The skeleton task (Shen et al. 2017: LMSDS / FSDS / HED) in the task contract (:mod:`structnet.tasks`).

Slots: config :class:`~structnet.skeleton.config.SkeletonConfig`; model :func:`~structnet.skeleton.train.build_model`;
training data and loss in :mod:`structnet.skeleton.train`; evaluation (ODS / OIS / AP with the skeval protocol,
optionally object segments) in :mod:`structnet.skeleton.evaluate`; prediction (maps, thin skeleton, segments) in
:mod:`structnet.skeleton.inference`; files in :mod:`structnet.skeleton.writer`. ``structnet score skeleton``
scores a folder of predicted PNG maps against a GT folder (:func:`structnet.skeleton.metrics.evaluate_dirs`).
See docs/skeleton.md.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import UserError
from ..tasks.args import fraction, nonneg_int, positive_int, tolerance
from ..tasks.base import Task
from .config import SkeletonConfig, SkeletonDataConfig
from .segments import DEFAULT_MIN_AREA


class SkeletonTask(Task):
    name = "skeleton"
    summary = "object skeletons with per-pixel scale and object segments (LMSDS / FSDS / HED)"
    config_class = SkeletonConfig
    default_model = "lmsds_efficientnet_lite0"
    outputs = ("<name>_skeleton.png, <name>_skeleton_overlay.png, <name>_skeleton_segments.png and "
               "<name>_skeleton.npz per image")
    output_suffixes = ("_skeleton.png", "_skeleton_overlay.png", "_skeleton_segments.png", "_skeleton.npz")

    # ----------------------------------------------------------------------------------------------- model
    def build_model(self, cfg: SkeletonConfig):
        from .train import build_model

        return build_model(cfg.model)

    def model_metadata(self, cfg: SkeletonConfig, net) -> Dict[str, Any]:
        return {"model_config": {**asdict(cfg.model), **net.config()}}

    def model_from_metadata(self, meta: Dict[str, Any], path: Path):
        from ..tasks.loading import LoadedModel
        from ..nn.weights import load_weights
        from .model import build_skeleton_model

        cfg = meta.get("model_config")  # the hub decodes JSON metadata values
        if not isinstance(cfg, dict) or "method" not in cfg or "backbone" not in cfg:
            raise UserError(f"{path}: not a structnet skeleton weights file (no model_config in its metadata)")
        try:
            net = build_skeleton_model(method=cfg["method"], backbone=cfg["backbone"], pretrained=False,
                                       taps=cfg.get("taps"), rho=cfg.get("rho", 1.2),
                                       beyond=cfg.get("beyond", "clamp"))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{path}: its model_config does not build a skeleton model ({e})") from None
        load_weights(net, path)
        try:
            threshold = float(meta.get("threshold", 0.5))
        except (TypeError, ValueError):
            raise UserError(f"{path}: bad threshold {meta.get('threshold')!r} in its metadata") from None
        max_side = meta.get("max_side")     # the longer side the model was trained at: predict's default
        if max_side is not None:
            if not str(max_side).isdigit() or int(max_side) == 0:
                raise UserError(f"{path}: bad max_side {max_side!r} in its metadata (expected a positive number "
                                f"of pixels)")
            max_side = int(max_side)
        scales, flip = _tta_from_metadata(meta, path)
        return LoadedModel(network=net.eval(), task=self.name, name=str(meta.get("name") or ""), source=Path(path),
                           codec=net.codec, settings={"threshold": threshold, "method": net.method,
                                                      "max_side": max_side, "scales": scales, "flip": flip})

    def headline(self, meta: Dict[str, Any]) -> str:
        if "test_ods_f" not in meta:
            return ""
        return (f"{meta.get('test_dataset', '?')} test ODS F {float(meta['test_ods_f']):.3f}, "
                f"OIS F {float(meta.get('test_ois_f', float('nan'))):.3f}, AP {float(meta.get('test_ap', float('nan'))):.3f}")

    # -------------------------------------------------------------------------------------------- training
    def check_config(self, cfg: SkeletonConfig) -> None:
        if cfg.loss.lam > 0 and cfg.model.method == "fsds":
            cfg.loss.lam = 0.0  # FSDS has no scale regressors

    def build_train_dataset(self, cfg: SkeletonConfig):
        from .train import build_dataset

        return build_dataset(cfg.data, seed=cfg.train.seed)

    def build_loss(self, cfg: SkeletonConfig):
        from .train import make_loss_fn

        return make_loss_fn(cfg)

    # ------------------------------------------------------------------------------------------ evaluation
    def build_eval_dataset(self, cfg: SkeletonConfig, max_images: Optional[int] = None):
        from .train import build_dataset

        e = cfg.eval
        data = SkeletonDataConfig(dataset=e.dataset, root=e.root, split=e.split, augment=False,
                                  cache_dir=cfg.data.cache_dir, synthetic_n=cfg.data.synthetic_n,
                                  synthetic_size=cfg.data.synthetic_size)
        return build_dataset(data, split=e.split, augment=False, seed=cfg.train.seed)

    def eval_predictor(self, model, cfg: SkeletonConfig):
        from .inference import check_scales, predict_maps

        e = cfg.eval
        max_side = e.max_side if e.max_side is not None else model.settings.get("max_side")
        scales = e.scales if e.scales is not None else model.settings.get("scales")
        flip = e.flip if e.flip is not None else model.settings.get("flip")
        try:
            check_scales(scales or (1.0,))
        except ValueError as err:
            raise UserError(f"eval.scales: {err}") from None

        def predict_sample(sample):
            img = np.round(np.transpose(sample["image"], (1, 2, 0)) * 255).astype(np.uint8)
            return predict_maps(model.network, img, max_side=max_side, precision=e.precision, scales=scales,
                                flip=flip)

        return predict_sample

    def build_evaluator(self, cfg: SkeletonConfig, model=None):
        from .evaluate import SkeletonEvaluator

        e = cfg.eval
        segments = bool(e.segments) and (model is None or model.settings.get("method") != "hed")
        return SkeletonEvaluator(thresholds=e.thresholds, tolerance=e.tolerance, workers=e.workers,
                                 segments=segments, segments_mode=e.segments_mode,
                                 min_segment_area=e.min_segment_area)

    def add_eval_arguments(self, p) -> None:
        p.add_argument("--max-side", type=positive_int, default=None,
                       help="run the network at this longer side (maps resized back to the GT size; default: "
                            "eval.max_side, else the longer side the model was trained at)")
        p.add_argument("--thresholds", type=_thresholds, default=None, help="number of thresholds (default 100)")
        p.add_argument("--tolerance", type=tolerance, default=None,
                       help="match distance as a fraction of the image diagonal (default 0.01)")
        p.add_argument("--segments", action="store_true", default=None,
                       help="also score object segments rebuilt from skeleton + scale (needs GT masks)")
        p.add_argument("--workers", type=nonneg_int, default=None, help="processes for matching (default: cores)")
        _add_segment_arguments(p)
        _add_tta_arguments(p)

    def apply_eval_arguments(self, cfg: SkeletonConfig, args) -> None:
        for key in ("max_side", "thresholds", "tolerance", "segments", "workers", "segments_mode",
                    "min_segment_area", "scales", "flip"):
            v = getattr(args, key, None)
            if v is not None:
                setattr(cfg.eval, key, v)

    # ------------------------------------------------------------------------------------------ prediction
    def add_predict_arguments(self, p) -> None:
        p.add_argument("--max-side", type=positive_int, default=None,
                       help="run the network and post-processing at this longer side; maps come back at input "
                            "size (default: the longer side the model was trained at, stored in its weights; "
                            "full size for weights without it)")
        p.add_argument("--threshold", type=fraction, default=None,
                       help="binarisation threshold in [0, 1] for thin skeletons and segments (default: the "
                            "model's ODS threshold)")
        _add_segment_arguments(p)
        _add_tta_arguments(p)

    def predictor(self, model, options):
        from .inference import predict_image

        threshold = options.threshold if getattr(options, "threshold", None) is not None \
            else model.settings.get("threshold", 0.5)
        max_side, precision = getattr(options, "max_side", None), getattr(options, "precision", "auto")
        if max_side is None:
            max_side = model.settings.get("max_side")   # the size the model was trained at (None: full size)

        mode = getattr(options, "segments_mode", None) or "objects"
        min_area = getattr(options, "min_segment_area", None)
        min_area = DEFAULT_MIN_AREA if min_area is None else min_area

        scales = getattr(options, "scales", None)
        scales = scales if scales is not None else model.settings.get("scales")
        flip = getattr(options, "flip", None)
        flip = flip if flip is not None else model.settings.get("flip")

        def fn(image):
            return predict_image(model.network, image, max_side=max_side, precision=precision, threshold=threshold,
                                 segments=mode, min_segment_area=min_area, scales=scales, flip=flip)

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None) -> List[Path]:
        from .writer import write_result

        return write_result(result, image, out_dir, name)

    def describe(self, result) -> str:
        return (f"{result['skeleton_pixels']} skeleton px, {result['segments']} segment(s) from "
                f"{result['pieces']} skeleton piece(s)")

    # ---------------------------------------------------------------------------------------------- scoring
    def add_score_arguments(self, p) -> None:
        p.add_argument("--pred", required=True,
                       help="folder of 8- or 16-bit grey PNG maps named like the GT stems (a _skeleton suffix is accepted)")
        p.add_argument("--gt", required=True, help="folder of GT: PNG scale maps, binary skeleton PNGs or .mat files")
        p.add_argument("--tolerance", type=tolerance, default=0.01,
                       help="match distance as a fraction of the image diagonal (default 0.01)")
        p.add_argument("--thresholds", type=_thresholds, default=100, help="number of thresholds (default 100)")
        p.add_argument("--no-nms", action="store_true", help="skip non-maximum suppression (maps already thin)")
        p.add_argument("--workers", type=nonneg_int, default=None, help="processes (default: all cores)")
        p.add_argument("--plot", default=None, help="write a PR-curve PNG here")

    def score(self, args):
        from .metrics import evaluate_dirs

        res, failures = evaluate_dirs(args.pred, args.gt, thresholds=args.thresholds, tolerance=args.tolerance,
                                      nms=not args.no_nms, workers=args.workers)
        if res.n_images == 0:
            raise UserError(f"no prediction in {args.pred} could be scored against {args.gt} "
                            f"({len(failures)} GT file(s) without a readable prediction <stem>.png or "
                            f"<stem>_skeleton.png)")
        if args.plot:
            from .plots import plot_pr

            plot_pr({Path(args.pred).name: res}, args.plot)
        from .evaluate import SkeletonEvaluator

        return res.to_dict(), SkeletonEvaluator(), failures


def _add_segment_arguments(p) -> None:
    from .segments import SEGMENT_MODES

    p.add_argument("--segments-mode", choices=SEGMENT_MODES, default=None,
                   help="objects (default): segments whose regions touch are one object, small objects dropped, "
                        "skeleton pieces of an object joined; parts: the paper's one segment per skeleton piece")
    p.add_argument("--min-segment-area", type=fraction, default=None,
                   help="objects mode: drop objects smaller than this fraction of the largest (default 0.05)")


def _add_tta_arguments(p) -> None:
    import argparse

    p.add_argument("--scales", type=_scales, default=None,
                   help="test-time scales, comma-separated factors of the network's input size (the maps of the "
                        "enlarged copies are averaged), e.g. 1 or 1,1.5 (default: the model's stored scales)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="also average the maps of left-right mirrored inputs (default: the model's stored choice)")


def _scales(text: str):
    import argparse

    from .inference import check_scales

    try:
        return list(check_scales(v for v in str(text).split(",") if v.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated factors in [0.1, 8] such as 1,1.5, "
                                         f"got {text!r}") from None


def _tta_from_metadata(meta: Dict[str, Any], path: Path):
    """``(scales, flip)`` stored in a weights file's metadata (``tta_scales`` "1,1.5", ``tta_flip`` "true"/"false");
    ``((1.0,), False)`` when absent; UserError naming the file for bad values."""
    from .inference import check_scales

    raw = meta.get("tta_scales")
    scales = (1.0,)
    if raw is not None:
        try:
            scales = check_scales(v for v in str(raw).split(",") if v.strip())
        except ValueError:
            raise UserError(f"{path}: bad tta_scales {raw!r} in its metadata (expected factors such as 1,1.5)") from None
    raw_flip = meta.get("tta_flip", "false")
    flip = str(raw_flip).strip().lower()
    if flip not in ("true", "false", "1", "0"):
        raise UserError(f"{path}: bad tta_flip {raw_flip!r} in its metadata (expected true or false)")
    return scales, flip in ("true", "1")


def _thresholds(text: str) -> int:
    n = positive_int(text)
    if n < 2:
        import argparse

        raise argparse.ArgumentTypeError(f"needs at least 2 thresholds, got {n}")
    return n


TASK = SkeletonTask()
