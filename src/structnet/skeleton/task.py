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
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..errors import UserError
from ..tasks.base import Task
from ..tasks.options import check
from .config import SkeletonConfig, SkeletonDataConfig, SkeletonPredictOptions, SkeletonScoreOptions


class SkeletonTask(Task):
    name = "skeleton"
    summary = "object skeletons with per-pixel scale and object segments (LMSDS / FSDS / HED)"
    config_class = SkeletonConfig
    predict_options = SkeletonPredictOptions
    score_options = SkeletonScoreOptions
    default_model = "lmsds_efficientnet_lite0"
    outputs = ("<name>_skeleton.png, <name>_skeleton_overlay.png, <name>_skeleton_segments.png and "
               "<name>_skeleton.npz per image")
    output_suffixes = ("_skeleton.png", "_skeleton_overlay.png", "_skeleton_segments.png", "_skeleton.npz")
    preview_suffixes = ("_skeleton_overlay.png", "_skeleton_segments.png")

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

    def bundle_metadata(self, evaluation: Mapping[str, Any], settings: Mapping[str, Any]) -> Dict[str, str]:
        """``evaluation``: the JSON of ``structnet score skeleton`` on the test predictions (``ods_f``, ``ois_f``,
        ``ap``) plus ``dataset`` (the test set's name). ``settings``: ``threshold`` (predict's binarisation
        threshold), ``threshold_source`` (where it comes from), ``max_side`` (the longer side the model was trained
        at), ``scales`` (test-time scales: "1,1.5" or a sequence) and ``flip``: the defaults
        :meth:`model_from_metadata` gives the loaded model."""
        out: Dict[str, str] = {}
        if "threshold" in settings:
            out["threshold"] = f"{float(settings['threshold']):.6f}"
        if "threshold_source" in settings:
            out["threshold_source"] = str(settings["threshold_source"])
        if settings.get("max_side") is not None:
            out["max_side"] = str(int(settings["max_side"]))
        if "scales" in settings:
            scales = settings["scales"]
            out["tta_scales"] = scales if isinstance(scales, str) else ",".join(f"{float(v):g}" for v in scales)
        if "flip" in settings:
            out["tta_flip"] = "true" if settings["flip"] else "false"
        if evaluation:
            out.update({"test_dataset": str(evaluation["dataset"]), "test_ods_f": f"{evaluation['ods_f']:.4f}",
                        "test_ois_f": f"{evaluation['ois_f']:.4f}", "test_ap": f"{evaluation['ap']:.4f}"})
        return out

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
        from .inference import predict_maps

        e = cfg.eval
        check(e)
        max_side, scales, flip = _stored(e, model)

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

    # ------------------------------------------------------------------------------------------ prediction
    def predictor(self, model, options: Optional[SkeletonPredictOptions] = None):
        from .inference import predict_image

        o = self.options_or_defaults(options)
        check(o)
        threshold = o.threshold if o.threshold is not None else model.settings["threshold"]
        max_side, scales, flip = _stored(o, model)

        def fn(image):
            return predict_image(model.network, image, max_side=max_side, precision=o.precision, threshold=threshold,
                                 segments=o.segments_mode, min_segment_area=o.min_segment_area, scales=scales,
                                 flip=flip)

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None,
              options: Optional[SkeletonPredictOptions] = None) -> List[Path]:
        from .writer import write_result

        return write_result(result, image, out_dir, name)

    def to_json(self, result, image) -> Dict[str, Any]:
        """Counts and thickness: ``threshold``, ``skeleton_pixels`` (thin skeleton), ``segments``, ``pieces``, and
        ``thickness_px`` (median / 90th percentile / max of the predicted scale, the diameter of the largest disk
        inside the object in image pixels, over the thin skeleton's pixels; None without skeleton)."""
        thin = np.asarray(result["thin"], bool)
        scale = np.asarray(result["scale"], np.float64)[thin]
        scale = scale[np.isfinite(scale)]
        thick = None if scale.size == 0 else {"median": round(float(np.median(scale)), 2),
                                                "p90": round(float(np.percentile(scale, 90)), 2),
                                                "max": round(float(scale.max()), 2)}
        return {"threshold": float(result["threshold"]), "skeleton_pixels": int(result["skeleton_pixels"]),
                "segments": int(result["segments"]), "pieces": int(result["pieces"]), "thickness_px": thick}

    def describe(self, result) -> str:
        return (f"{result['skeleton_pixels']} skeleton px, {result['segments']} segment(s) from "
                f"{result['pieces']} skeleton piece(s)")

    # ---------------------------------------------------------------------------------------------- scoring
    def score(self, options: SkeletonScoreOptions):
        from .metrics import evaluate_dirs

        o = options
        res, failures = evaluate_dirs(o.pred, o.gt, thresholds=o.thresholds, tolerance=o.tolerance, nms=o.nms,
                                      workers=o.workers)
        if res.n_images == 0:
            raise UserError(f"no prediction in {o.pred} could be scored against {o.gt} "
                            f"({len(failures)} GT file(s) without a readable prediction <stem>.png or "
                            f"<stem>_skeleton.png)")
        if o.plot:
            from .plots import plot_pr

            plot_pr({Path(o.pred).name: res}, o.plot)
        from .evaluate import SkeletonEvaluator

        return res.to_dict(), SkeletonEvaluator(), failures


#: The scales of ``--tta`` (each also mirrored): the six-pass ensemble.
TTA_SCALES = (1.0, 1.5, 2.0)


def _stored(options, model):
    """``(max_side, scales, flip)`` of ``options``: ``scales`` / ``flip`` where given, else what ``tta`` says
    (True: :data:`TTA_SCALES` mirrored; False: one pass), else the model's stored setting; ``max_side`` where
    given, else the model's."""
    st = model.settings
    tta = getattr(options, "tta", None)
    max_side = options.max_side if options.max_side is not None else st.get("max_side")
    if tta is None:
        scales_default, flip_default = st.get("scales"), st.get("flip")
    else:
        scales_default, flip_default = (TTA_SCALES, True) if tta else ((1.0,), False)
    scales = options.scales if options.scales is not None else scales_default
    flip = options.flip if options.flip is not None else flip_default
    return max_side, scales, flip


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


TASK = SkeletonTask()
