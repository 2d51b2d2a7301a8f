"""The 2D pose task (Ke et al. 2018: multi-scale structure-aware hourglass) in the task contract
(:mod:`structnet.tasks`), and the saved-model format of pose models.

Slots: config :class:`~structnet.pose2d.config.Pose2DConfig`; model, training data, loss, stage freezing and the
reduce-on-plateau hook in :mod:`structnet.pose2d.train`; evaluation (PCK / PCKh, AUC) in
:mod:`structnet.pose2d.evaluate`; prediction (crop, flip and multi-scale test, conditional testing) in
:mod:`structnet.pose2d.inference`; files in :mod:`structnet.pose2d.writer`. ``structnet score pose2d`` scores a
folder of ``<stem>_pose2d.json`` files against a dataset's annotations.

Saved models
------------
Weights files (safetensors, :mod:`structnet.nn.weights`) carry in their metadata ``structnet_task`` and ``task`` =
``"pose2d"``, ``model_config`` (JSON of :meth:`PoseNet.config`), ``layout`` (the layout name), ``layout_spec``
(JSON: joints, flip pairs, edges, structure groups, torso; so custom layouts load too), ``input_size`` (JSON
``[H, W]``) and ``codec`` (JSON of the :class:`HeatmapCodec` settings). :meth:`Pose2DTask.model_from_metadata`
(called by :func:`structnet.hub.load`) rebuilds the model, layout and codec from them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..errors import UserError
from ..tasks.base import Task
from ..tasks.options import apply_args, check, check_box
from .codec import HeatmapCodec
from .config import DEFAULT_MODEL, Pose2DConfig, Pose2DPredictOptions, Pose2DScoreOptions
from ..keypoints.layouts import KeypointLayout, get_layout

__all__ = ["Pose2DTask", "TASK", "pose_model_metadata", "save_pose_model", "RESERVED_META"]

#: Metadata keys written by :func:`pose_model_metadata` (refused in ``extra_meta``).
RESERVED_META = ("task", "structnet_task", "model_config", "layout", "layout_spec", "input_size", "codec")


# ------------------------------------------------------------------------------------------- saved models
def _layout_spec(layout: KeypointLayout) -> Dict[str, Any]:
    return {"name": layout.name, "joints": list(layout.joints), "flip_pairs": [list(p) for p in layout.flip_pairs],
            "edges": [list(e) for e in layout.edges], "structure_groups": [list(g) for g in layout.structure_groups],
            "torso": None if layout.torso is None else list(layout.torso)}


def _layout_from_spec(spec: Mapping, path) -> KeypointLayout:
    try:
        return KeypointLayout(str(spec["name"]), tuple(str(j) for j in spec["joints"]),
                              tuple((int(a), int(b)) for a, b in spec["flip_pairs"]),
                              tuple((int(a), int(b)) for a, b in spec["edges"]),
                              tuple(tuple(int(i) for i in g) for g in spec["structure_groups"]),
                              None if spec.get("torso") is None else (int(spec["torso"][0]), int(spec["torso"][1])))
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path}: malformed layout_spec in the metadata ({type(e).__name__}: {e})") from None


def pose_model_metadata(net, layout, codec: Optional[HeatmapCodec] = None) -> Dict[str, Any]:
    """The metadata that rebuilds a PoseNet with its layout and codec (module docstring)."""
    from ..nn.modules import unwrap

    model = unwrap(net)
    if not callable(getattr(model, "config", None)) or not hasattr(model, "num_joints"):
        raise ValueError(f"a pose model must be a PoseNet (with config() and num_joints), got {type(model).__name__}")
    lay = get_layout(layout)
    if lay.num_joints != model.num_joints:
        raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints but the model predicts {model.num_joints}")
    codec = codec if codec is not None else HeatmapCodec()
    return {"task": "pose2d", "structnet_task": "pose2d", "model_config": model.config(), "layout": lay.name,
            "layout_spec": _layout_spec(lay), "input_size": list(codec.input_size),
            "codec": {"input_size": list(codec.input_size), "heatmap_size": list(codec.heatmap_size),
                      "sigma": float(codec.sigma), "scales": list(codec.scales)}}


def save_pose_model(net, path, layout, extra_meta: Optional[Mapping[str, object]] = None,
                    codec: Optional[HeatmapCodec] = None, half: bool = False) -> Path:
    """Write ``net`` (a :class:`~structnet.pose2d.model.PoseNet`) as safetensors with the metadata of the module
    docstring. layout: a name or :class:`KeypointLayout` (its joint count must match the model); codec: the
    training codec (default ``HeatmapCodec()``); extra_meta: more metadata (strings, or values stored as JSON),
    e.g. the training config and metrics; the reserved keys (:data:`RESERVED_META`) are refused. ``half``: kernels
    stored as float16 (:func:`~structnet.nn.weights.half_kernels`; loading casts them back)."""
    from ..nn.modules import unwrap
    from ..nn.weights import save_weights

    extra = dict(extra_meta or {})
    clash = sorted(set(extra) & set(RESERVED_META))
    if clash:
        raise ValueError(f"extra_meta must not set reserved key(s) {', '.join(clash)}")
    meta = {**{str(k): v for k, v in extra.items()}, **pose_model_metadata(net, layout, codec)}
    return save_weights(unwrap(net), path, meta, half=half)


def _codec_from_meta(meta: Dict[str, Any], path) -> HeatmapCodec:
    cc = meta.get("codec") if isinstance(meta.get("codec"), dict) else {}
    isz = cc.get("input_size", meta.get("input_size", (256, 256)))
    try:
        return HeatmapCodec(input_size=tuple(isz), heatmap_size=tuple(cc.get("heatmap_size", (64, 64))),
                            sigma=float(cc.get("sigma", 1.0)), scales=tuple(cc.get("scales", (1, 2, 4, 8))))
    except (TypeError, ValueError) as e:
        raise UserError(f"{path}: bad codec settings in the metadata ({e})") from None


# ------------------------------------------------------------------------------------------------- task
class Pose2DTask(Task):
    name = "pose2d"
    summary = ("2D human pose: multi-scale supervision and regression (MSS, MSR, structure-aware loss, keypoint "
               "masking) on a pretrained encoder or a stacked hourglass")
    config_class = Pose2DConfig
    predict_options = Pose2DPredictOptions
    score_options = Pose2DScoreOptions
    default_model = DEFAULT_MODEL
    outputs = "<name>_pose2d.json and <name>_pose2d_overlay.png per image"
    output_suffixes = ("_pose2d.json", "_pose2d_overlay.png")
    preview_suffixes = ("_pose2d_overlay.png",)

    # ----------------------------------------------------------------------------------------------- model
    def build_model(self, cfg: Pose2DConfig):
        from .train import build_model

        return build_model(cfg)

    def load_init(self, net, path: Path) -> None:
        from .person import is_person_model
        from .train import load_init_weights

        if is_person_model(net):
            from ..nn.weights import load_weights

            if not Path(path).is_file():
                raise UserError(f"model.init weights not found: {path}")
            load_weights(net, path)
            return
        load_init_weights(net, path)

    def prepare_model(self, cfg: Pose2DConfig, net) -> None:
        for part in cfg.model.freeze:
            net.freeze(part)

    def model_metadata(self, cfg: Pose2DConfig, net) -> Dict[str, Any]:
        from .data import layout_of
        from .person import PERSON_BOX, person_model_metadata
        from .train import make_codec

        if cfg.model.arch == PERSON_BOX:
            return person_model_metadata(net)
        return pose_model_metadata(net, layout_of(cfg.data.dataset), make_codec(cfg))

    def model_from_metadata(self, meta: Dict[str, Any], path: Path):
        from ..tasks.loading import LoadedModel
        from ..nn.weights import load_weights
        from .inference import _resolve_layout
        from .model import build_pose_model

        cfg = meta.get("model_config")  # the hub decodes JSON metadata values
        from .person import PERSON_BOX, person_model_from_metadata

        if meta.get("kind") == PERSON_BOX:
            net = person_model_from_metadata(meta, path)
            return LoadedModel(network=net.eval(), task=self.name, name=str(meta.get("name") or ""),
                               source=Path(path), settings={"kind": "person_box", "input_size": net.input_size})
        if not isinstance(cfg, dict) or "num_joints" not in cfg:
            raise UserError(f"{path}: not a structnet pose2d weights file (no pose model_config in its metadata)")
        try:
            net = build_pose_model(**cfg)
        except TypeError as e:
            raise UserError(f"{path}: model_config does not fit build_pose_model ({e})") from None
        load_weights(net, path)
        import torch

        # channels_last: the CPU convolutions run about 20 % faster in it (EfficientNet-Lite0 encoder, 192 input,
        # batch 2 = flip test, one thread); inference feeds its crops in the same layout
        net = net.to(memory_format=torch.channels_last)
        if isinstance(meta.get("layout_spec"), dict):
            lay = _layout_from_spec(meta["layout_spec"], path)
        elif "layout" in meta:
            lay = get_layout(str(meta["layout"]))
        else:
            lay = _resolve_layout(None, net.num_joints)
        if lay.num_joints != net.num_joints:
            raise UserError(f"{path}: layout {lay.name!r} has {lay.num_joints} joints but the model has "
                            f"{net.num_joints}")
        from .visibility import calibration_from_metadata

        cal = calibration_from_metadata(meta)
        return LoadedModel(network=net.eval(), task=self.name, name=str(meta.get("name") or ""), source=Path(path),
                           codec=_codec_from_meta(meta, path), layout=lay,
                           settings={} if cal is None else {"visibility": cal})

    def onnx_spec(self, model):
        """The heatmaps (``final``) for a batch of windows at the codec's input size; for a person-box model its
        boxes for a batch of whole photos at its input size."""
        from ..nn.onnx_backend import OnnxSpec
        from .inference import _heatmaps_of

        from .person import is_person_model

        if is_person_model(model):  # the box of a whole photo at the net's square
            n = int(model.settings["input_size"])
            return OnnxSpec((1, 3, n, n), lambda out: out, ("boxes",))
        h, w = model.codec.input_size
        return OnnxSpec((1, 3, int(h), int(w)), _heatmaps_of, ("heatmaps",))

    def bundle_metadata(self, evaluation: Mapping[str, Any], settings: Mapping[str, Any]) -> Dict[str, str]:
        """``evaluation``: ``annotation``, the JSON of ``structnet eval pose2d --json`` (annotated person windows),
        and optionally ``auto``, the same with ``--window auto`` (whole images, as ``predict`` runs them), which
        then gives the headline; for a person-box model ``person_box`` instead: ``dataset`` (e.g. ``"LSPET val"``),
        ``mean_iou`` and ``iou50`` of :func:`~structnet.pose2d.person.evaluate_person_boxes` on whole photos.
        ``settings``: optionally ``visibility``, the calibration of :mod:`structnet.pose2d.visibility`
        (``{"a", "b"}``), stored as JSON."""
        out: Dict[str, str] = {}
        if settings.get("visibility") is not None:
            out["visibility"] = json.dumps({k: float(v) for k, v in dict(settings["visibility"]).items()})
        if not evaluation:
            return out
        if "person_box" in evaluation:
            pb = evaluation["person_box"]
            out.update({"test_dataset": str(pb["dataset"]), "test_metric": "person box IoU whole images",
                        "test_box_iou": f"{pb['mean_iou']:.4f}", "test_box_iou50": f"{pb['iou50']:.4f}"})
            return out
        ev = evaluation["annotation"]
        ds_name = ev["dataset"].get("name") or ev["dataset"].get("dataset")
        out.update({"test_dataset": f"{ds_name} {ev['dataset']['split']}", "test_metric": ev["metric"],
                    "test_pck": f"{ev['mean']:.4f}", "test_auc": f"{ev['auc']:.4f}"})
        whole = evaluation.get("auto")
        if whole is not None:
            out.update({"test_metric": f"{whole['metric']} whole images", "test_pck": f"{whole['mean']:.4f}",
                        "test_auc": f"{whole['auc']:.4f}", "test_pck_annotated_window": f"{ev['mean']:.4f}"})
        return out

    def headline(self, meta: Dict[str, Any]) -> str:
        if "test_box_iou" in meta:
            return f"{meta.get('test_dataset', '?')} {meta.get('test_metric')} {float(meta['test_box_iou']):.3f}"
        if "test_pck" not in meta:
            return ""
        return (f"{meta.get('test_dataset', '?')} {meta.get('test_metric', 'PCK')} "
                f"{100 * float(meta['test_pck']):.1f} %")

    # -------------------------------------------------------------------------------------------- training
    def check_config(self, cfg: Pose2DConfig) -> None:
        from .data import layout_of
        from .train import check_config

        check_config(cfg)
        if cfg.train.eval_every > 0 and layout_of(cfg.eval.dataset) != layout_of(cfg.data.dataset):
            raise UserError(f"eval.dataset {cfg.eval.dataset!r} ({layout_of(cfg.eval.dataset)}) does not match "
                            f"data.dataset {cfg.data.dataset!r} ({layout_of(cfg.data.dataset)})")

    def build_train_dataset(self, cfg: Pose2DConfig):
        from .data import build_person_dataset, build_train_dataset
        from .person import PERSON_BOX
        from .train import make_codec

        if cfg.model.arch == PERSON_BOX:
            return build_person_dataset(cfg.data)
        return build_train_dataset(cfg.data, make_codec(cfg))

    def build_loss(self, cfg: Pose2DConfig):
        from .data import layout_of
        from .person import PERSON_BOX, person_box_loss
        from .train import make_loss_fn

        if cfg.model.arch == PERSON_BOX:
            return person_box_loss
        return make_loss_fn(cfg, layout_of(cfg.data.dataset))

    def train_hooks(self, cfg: Pose2DConfig) -> List[Any]:
        from .train import PlateauHook

        return [PlateauHook(cfg.plateau)] if cfg.plateau.enabled and cfg.train.eval_every > 0 else []

    def train_eval_fn(self, cfg: Pose2DConfig):
        from .evaluate import evaluate_pose2d
        from .data import build_eval_dataset, layout_of
        from .person import PERSON_BOX, evaluate_person_boxes
        from .train import make_codec

        val = build_eval_dataset(cfg, cfg.eval.max_images)
        if cfg.model.arch == PERSON_BOX:
            return lambda model: evaluate_person_boxes(model, val)
        layout, codec, e = layout_of(cfg.data.dataset), make_codec(cfg), cfg.eval

        def eval_fn(model):
            r = evaluate_pose2d(model, val, layout=layout, codec=codec, metric=e.metric, threshold=e.threshold,
                                protocol=e.protocol, flip_test=e.flip_test, scales=tuple(e.scales),
                                refine=e.refine, window=e.window, precision=e.precision)
            return {"mean": r["mean"], "auc": r["auc"]}

        return eval_fn

    # ------------------------------------------------------------------------------------------ evaluation
    def build_eval_dataset(self, cfg: Pose2DConfig, max_images: Optional[int] = None):
        from .data import build_eval_dataset

        return build_eval_dataset(cfg, max_images)

    def check_eval(self, cfg: Pose2DConfig, model) -> None:
        from .data import layout_of

        _refuse_person_model(model)
        want = layout_of(cfg.eval.dataset)
        if model.layout is not None and model.layout.name != want:
            raise UserError(f"the model predicts {model.layout.name} joints but eval dataset {cfg.eval.dataset!r} "
                            f"is {want}")

    def build_evaluator(self, cfg: Pose2DConfig, model=None):
        from .evaluate import PoseEvaluator
        from .data import layout_of

        e = cfg.eval
        lay = model.layout if model is not None and model.layout is not None else layout_of(e.dataset)
        return PoseEvaluator(lay, e.metric, e.threshold, e.protocol,
                             settings={"flip_test": bool(e.flip_test), "scales": [float(s) for s in e.scales],
                                       "refine": e.refine, "window": e.window, "precision": e.precision,
                                       "person_model": e.person_model if e.window == "auto" else None})

    def eval_predictor(self, model, cfg: Pose2DConfig):
        from .evaluate import sample_predictor

        e = cfg.eval
        check(e)
        person = (load_person_model(e.person_model, backend=getattr(model, "backend", "torch"))
                  if e.window == "auto" else None)
        return sample_predictor(model, e.window, person=person, flip_test=e.flip_test, scales=tuple(e.scales),
                                refine=e.refine, precision=e.precision)

    def apply_eval_arguments(self, cfg: Pose2DConfig, args) -> None:
        from .data import layout_of

        apply_args(cfg.eval, args)
        layout_of(cfg.eval.dataset)  # validates the name

    # ------------------------------------------------------------------------------------------ prediction
    def predictor(self, model, options: Optional[Pose2DPredictOptions] = None):
        from .inference import ConditionalTesting, predict_pose, predict_pose_auto
        from .visibility import joint_visibility

        o = self.options_or_defaults(options)
        check(o)
        check_box(o.box)
        _refuse_person_model(model)
        cond = ConditionalTesting() if o.conditional else None
        kw = dict(flip_test=o.flip_test, scales=tuple(o.scales), refine=o.refine, conditional=cond,
                  precision=o.precision)
        person = (load_person_model(o.person_model, backend=getattr(model, "backend", "torch"))
                  if o.box is None and o.window == "auto" else None)
        calibration = (getattr(model, "settings", None) or {}).get("visibility")

        def fn(image):
            check_box(o.box, image.shape)
            if o.box is None and o.window == "auto":
                res = predict_pose_auto(model, image, person=person, **kw)
            else:
                res = predict_pose(model, image, box=o.box, **kw)
            res["layout"] = model.layout
            res["outside"] = joints_outside(res["keypoints"], image.shape)
            res["visibility"], res["visible"] = joint_visibility(res["scores"], calibration)
            res["visibility_calibrated"] = calibration is not None
            return res

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None,
              options: Optional[Pose2DPredictOptions] = None) -> List[Path]:
        from .inference import _resolve_layout
        from .writer import write_result

        lay = result.get("layout") or _resolve_layout(None, np.asarray(result["keypoints"]).shape[0])
        return write_result(result, image, out_dir, name, lay, source=source)

    def to_json(self, result, image) -> Dict[str, Any]:
        """The record of ``<name>_pose2d.json`` (:func:`~structnet.pose2d.writer.pose_to_json`) without its
        ``image`` field, plus ``layout`` and ``visible_joints`` (how many joints are flagged visible)."""
        from .inference import _resolve_layout
        from .visibility import joint_visibility
        from .writer import pose_to_json

        lay = result.get("layout") or _resolve_layout(None, np.asarray(result["keypoints"]).shape[0])
        rec = pose_to_json(result, "", image.shape[1], image.shape[0], lay)
        rec.pop("image", None)
        visible = result.get("visible")
        visible = joint_visibility(np.asarray(result["scores"], np.float64))[1] if visible is None else visible
        rec["layout"] = getattr(lay, "name", str(lay))
        rec["visible_joints"] = int(np.asarray(visible, bool).sum())
        return rec

    def describe(self, result) -> str:
        from .inference import AUTO_MIN_JOINTS
        from .visibility import joint_visibility

        sc = np.asarray(result["scores"], np.float64)
        visible = result.get("visible")
        visible = joint_visibility(sc)[1] if visible is None else np.asarray(visible, bool)
        good = int(visible.sum())
        line = f"{good}/{len(sc)} joints visible"
        if good < AUTO_MIN_JOINTS:
            line += f"; too few joints for a pose (fewer than {AUTO_MIN_JOINTS} visible)"
        outside = result.get("outside") or []
        if outside:
            line += f"; {len(outside)} joint(s) placed outside the image"
        return line

    # ---------------------------------------------------------------------------------------------- scoring
    def score(self, options: Pose2DScoreOptions):
        """Match each annotated person to ``<pred>/<image stem>_pose2d.json`` (one person per image, as LSP) and
        score with :class:`PoseEvaluator`; persons without a readable JSON are listed as failures."""
        from ..engine.config import load_config
        from .evaluate import PoseEvaluator
        from .data import layout_of, load_records, usable_records

        o = options
        cfg = load_config(Pose2DConfig, o.config, [], task=self.name)  # None: the defaults, ${data} expanded
        e = cfg.eval
        for key, v in (("dataset", o.dataset), ("root", o.root), ("image_dir", o.image_dir), ("split", o.split),
                       ("metric", o.metric), ("protocol", o.protocol)):
            if v is not None:
                setattr(e, key, v)
        if e.dataset == "synthetic":
            raise UserError("score pose2d needs a dataset with files (lspet, mpii, coco, lsp-mat)")
        pred_dir = Path(o.pred)
        if not pred_dir.is_dir():
            raise UserError(f"prediction folder not found: {pred_dir}")
        recs = usable_records(load_records(e.dataset, e.root, e.split, e.image_dir, cfg.data.box_padding),
                              need_images=False)
        ev = PoseEvaluator(layout_of(e.dataset), e.metric, e.threshold, e.protocol, settings={"pred": str(pred_dir)})
        failures = []
        for r in recs:
            stem = Path(str(r.image_path or r.name)).stem
            f = pred_dir / f"{stem}_pose2d.json"
            try:
                doc = json.loads(f.read_text())
                joints = doc["joints"]
                kp = np.array([[np.nan if j["x"] is None else j["x"], np.nan if j["y"] is None else j["y"]]
                               for j in joints], np.float64)
                sc = np.array([0.0 if j.get("score") is None else j["score"] for j in joints], np.float64)
                if kp.shape != (ev.layout.num_joints, 2):
                    raise ValueError(f"{len(joints)} joints, the {ev.layout.name} layout has {ev.layout.num_joints}")
            except FileNotFoundError:
                failures.append((str(f), "no prediction file"))
                continue
            except (OSError, ValueError, KeyError, TypeError) as err:
                failures.append((str(f), f"unreadable pose JSON ({type(err).__name__}: {err})"))
                continue
            ev.process({"keypoints": r.keypoints, "annotated": r.annotated, "norm": r.norm},
                       {"keypoints": kp, "scores": sc})
        if not ev.arrays()[0].shape[0]:
            raise UserError(f"no <stem>_pose2d.json in {pred_dir} matches a person of {e.dataset} {e.split} "
                            f"({len(recs)} persons)")
        return ev.summarize(), ev, failures


def _refuse_person_model(model) -> None:
    from .person import is_person_model

    if is_person_model(model):
        raise UserError(f"{getattr(model, 'name', 'this model')}: a person-box model, not a pose model: give it "
                        f"to a pose model as --person-model")


_PERSON_MODELS: Dict[str, Any] = {}


def load_person_model(name: Optional[str], backend: str = "torch"):
    """The person-box model ``name`` (bundled name or weights file; None / "none": no person model, the
    whole-image window) on ``backend`` (the pose model's: ``torch`` or ``onnxruntime``), loaded once per process."""
    if name is None or str(name).lower() == "none":
        return None
    from ..tasks.loading import load

    key = f"{name}|{backend}"
    if key not in _PERSON_MODELS:
        m = load(str(name), task="pose2d", backend=backend, precision="float32")
        from .person import is_person_model

        if not is_person_model(m):
            raise UserError(f"{m.source}: a pose model, not a person-box model (--person-model takes a model "
                            f"trained with model.arch: person_box)")
        _PERSON_MODELS[key] = m
    return _PERSON_MODELS[key]


def joints_outside(keypoints, shape) -> List[int]:
    """Indices of the joints placed outside an image of ``shape`` (pixel centres at integer coordinates)."""
    kp = np.asarray(keypoints, np.float64).reshape(-1, 2)
    h, w = shape[:2]
    with np.errstate(invalid="ignore"):
        out = (kp[:, 0] < -0.5) | (kp[:, 0] > w - 0.5) | (kp[:, 1] < -0.5) | (kp[:, 1] > h - 0.5)
    return [int(i) for i in np.flatnonzero(out & np.isfinite(kp).all(1))]


TASK = Pose2DTask()
