"""The 3D pose task (Wan et al. 2017: skeleton maps -> 3D joints, multiple hypotheses) in the task contract.

Slots: config :class:`~structnet.pose3d.config.Pose3DConfig`; model builder in :mod:`structnet.pose3d.train`,
datasets in :mod:`structnet.pose3d.data` (lifter) and :mod:`structnet.pose3d.maps_data` (image -> maps network),
losses in :mod:`structnet.pose3d.losses`, predictors in :mod:`structnet.pose3d.inference`; the evaluator in
:mod:`structnet.pose3d.evaluate`; files in :mod:`structnet.pose3d.writer`.

``structnet eval pose3d --data DIR --input gt2d|sh`` lifts the 2D joints of the test subjects of a folder in the
3d-pose-baseline layout (projected ground truth or Stacked Hourglass detections) and scores MPJPE / P-MPJPE.
``structnet predict pose3d IMG`` runs the bundled 2D pose model on the photo, maps its 14 LSP joints to the 17
Human3.6M joints, draws the skeleton maps (depth order from a first, order-free pass) and lifts them; the
hypothesis with the smallest weak-perspective reprojection error is the answer.

Saved models: safetensors with metadata ``structnet_task`` = ``task`` = ``"pose3d"`` and ``model_config`` (JSON of
:meth:`Lifter.config`), which :meth:`Pose3DTask.model_from_metadata` rebuilds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..errors import UserError
from ..tasks.base import Task
from ..tasks.options import check, check_box
from .config import Pose3DConfig, Pose3DPredictOptions

__all__ = ["Pose3DTask", "TASK", "DEFAULT_MODEL"]

#: The bundled lifter ``structnet predict|eval pose3d`` use without --model / --weights: the keypoint MLP trained on
#: half Stacked Hourglass detections, better than the skeleton-map lifter from both inputs (S9/S11: 71.0 against
#: 91.7 mm from SH detections, 56.0 against 57.8 from GT 2D; docs/pose3d.md) and a tenth of its evaluation time.
#: The paper's skeleton-map lifter is ``--model skeleton_map_lifter_h36m``.
DEFAULT_MODEL = "keypoint_lifter_h36m"
#: The bundled image -> skeleton-map network: ``eval pose3d --input synthetic`` scores it (and
#: ``--maps-model`` another one); ``predict pose3d --maps-model skeleton_map_net_h36m`` draws a photo's maps with it.
DEFAULT_MAPS_MODEL = "skeleton_map_net_h36m"
#: the LSP joints (pose2d's 14-joint order) of the hips, knees and ankles: ``--min-leg-joints`` counts their flags
LEG_JOINTS_LSP = (0, 1, 2, 3, 4, 5)
#: the score of a 2D joint that counts as found (the heatmap peak; pose2d's uncalibrated drawing threshold)
PERSON_SCORE = 0.2


class Pose3DTask(Task):
    name = "pose3d"
    summary = ("3D human pose from skeleton maps (front/back by depth order) with multiple hypotheses chosen by "
               "reprojection; keypoint-MLP lifting baseline")
    config_class = Pose3DConfig
    predict_options = Pose3DPredictOptions
    default_model = DEFAULT_MODEL
    default_eval_config = None
    outputs = "<name>_pose3d.json and <name>_pose3d.png per image"
    output_suffixes = ("_pose3d.json", "_pose3d.png")
    preview_suffixes = ("_pose3d.png",)

    # ----------------------------------------------------------------------------------------------- model
    def build_model(self, cfg: Pose3DConfig):
        from .train import build_model

        return build_model(cfg)

    def prepare_model(self, cfg: Pose3DConfig, net) -> None:
        import torch

        net.to(memory_format=torch.channels_last)  # channels_last convolutions are faster on CPU
        if cfg.model.compile_renderer and cfg.model.kind == "maps":
            from .render import compiled_renderer

            net.render_fn = compiled_renderer()

    def model_metadata(self, cfg: Pose3DConfig, net) -> Dict[str, Any]:
        from ..nn.modules import unwrap

        return {"task": "pose3d", "structnet_task": "pose3d", "model_config": unwrap(net).config()}

    def model_from_metadata(self, meta: Dict[str, Any], path: Path):
        import torch

        from ..tasks.loading import LoadedModel
        from ..nn.weights import load_weights
        from .maps_net import SkeletonMapNet
        from .model import Lifter

        cfg = meta.get("model_config")
        if not isinstance(cfg, dict) or "widths" not in cfg:
            raise UserError(f"{path}: not a structnet pose3d weights file (no lifter model_config in its metadata)")
        try:
            if cfg.get("kind") == "image":
                net = SkeletonMapNet(**{k: v for k, v in cfg.items() if k != "kind"}, pretrained=False)
            else:
                net = Lifter(**cfg)
        except (TypeError, ValueError) as e:
            raise UserError(f"{path}: model_config does not fit the pose3d Lifter ({e})") from None
        load_weights(net, path)
        net = net.to(memory_format=torch.channels_last).eval()
        return LoadedModel(network=net, task=self.name, name=str(meta.get("name") or Path(path).stem),
                           source=Path(path))

    def bundle_metadata(self, evaluation: Mapping[str, Any], settings: Mapping[str, Any]) -> Dict[str, str]:
        """``evaluation``: JSONs of ``structnet eval pose3d --json``: for a lifter ``gt2d`` (``--input gt2d``, the
        headline) and optionally ``sh`` (``--input sh``); for the image -> skeleton maps network ``synthetic``
        (``--input synthetic``). 3D pose models store no settings."""
        out: Dict[str, str] = {}
        if "synthetic" in evaluation:
            ev = evaluation["synthetic"]
            out.update({"test_input": "synthetic S9/S11 renderings", "test_maps_iou": f"{ev['maps_iou']:.3f}",
                        "test_mpjpe_mm": f"{ev['mpjpe_mm']:.2f}", "test_p_mpjpe_mm": f"{ev['p_mpjpe_mm']:.2f}"})
        if "gt2d" in evaluation:
            gt = evaluation["gt2d"]
            out.update({"test_input": "GT 2D", "test_mpjpe_mm": f"{gt['mpjpe_mm']:.2f}",
                        "test_p_mpjpe_mm": f"{gt['p_mpjpe_mm']:.2f}"})
        if evaluation.get("sh") is not None:
            sh = evaluation["sh"]
            out.update({"sh_mpjpe_mm": f"{sh['mpjpe_mm']:.2f}", "sh_p_mpjpe_mm": f"{sh['p_mpjpe_mm']:.2f}"})
        return out

    def headline(self, meta: Dict[str, Any]) -> str:
        if "test_maps_iou" in meta:
            return (f"H36M S9/S11 synthetic renderings: maps IoU {float(meta['test_maps_iou']):.2f}, MPJPE "
                    f"{float(meta.get('test_mpjpe_mm', float('nan'))):.1f} mm")
        if "test_mpjpe_mm" not in meta:
            return ""
        return f"H36M S9/S11 from {meta.get('test_input', '?')}: MPJPE {float(meta['test_mpjpe_mm']):.1f} mm"

    # -------------------------------------------------------------------------------------------- training
    def check_config(self, cfg: Pose3DConfig) -> None:
        from .train import check_config

        check_config(cfg)

    def build_train_dataset(self, cfg: Pose3DConfig):
        if cfg.model.kind == "image":
            from .maps_data import ImageMapsDataset

            return ImageMapsDataset(cfg)
        from .data import LiftingDataset

        return LiftingDataset(cfg)

    def build_loss(self, cfg: Pose3DConfig):
        if cfg.model.kind == "image":
            from .losses import make_image_loss_fn

            return make_image_loss_fn(cfg)
        from .losses import make_loss_fn

        return make_loss_fn(cfg)

    # ------------------------------------------------------------------------------------------ evaluation
    def build_eval_dataset(self, cfg: Pose3DConfig, max_images: Optional[int] = None):
        from .data import SequenceDataset

        return SequenceDataset(cfg.eval, max_images)

    @staticmethod
    def _depth_order(cfg: Pose3DConfig, net) -> str:
        d = cfg.eval.depth_order
        if cfg.eval.input == "synthetic":
            return "drawn by the maps model"
        if d == "auto":
            d = "gt" if cfg.eval.input == "gt2d" else "estimated"
        if not getattr(net, "depth_order", False) or getattr(net, "kind", "maps") == "keypoints":
            d = "none"
        return d

    def build_evaluator(self, cfg: Pose3DConfig, model=None):
        from .evaluate import Pose3DEvaluator

        net = model.network if model is not None else None
        if net is not None:
            self._check_lifter(model)
        hyps = ([{"width": w, "crop": c} for w, c in zip(net.widths, net.crops)] if net is not None else [])
        settings = {"input": cfg.eval.input, "every": cfg.eval.every,
                    "depth_order": self._depth_order(cfg, net) if net is not None else cfg.eval.depth_order,
                    "subjects": list(cfg.eval.subjects)}
        if cfg.eval.input != "synthetic":
            settings["flip_test"] = bool(cfg.eval.flip)
        if cfg.eval.input == "sh":
            settings["sh_offsets"] = cfg.eval.sh_offsets
        if cfg.eval.ensemble and cfg.eval.input != "synthetic":
            settings["ensemble"] = [getattr(model, "name", "model")] + [str(m) for m in cfg.eval.ensemble]
        if cfg.eval.input == "synthetic":
            settings["maps_model"] = cfg.eval.maps_model or DEFAULT_MAPS_MODEL
            settings["backgrounds"] = str(cfg.eval.backgrounds)
        return Pose3DEvaluator(settings, hyps)

    def eval_predictor(self, model, cfg: Pose3DConfig):
        from .render import COMPILE_AFTER_SECONDS, compiled_renderer, render_skeleton_maps
        from .inference import average_lifters, predict_sequence

        self._check_lifter(model)
        check(cfg.eval)
        if cfg.eval.input == "synthetic":
            if cfg.eval.ensemble:
                raise UserError("--ensemble: inputs gt2d and sh only (--input synthetic lifts the maps the maps "
                                "model draws)")
            return self._synthetic_predictor(model, cfg)
        order = self._depth_order(cfg, model.network)
        bs = cfg.eval.batch_size
        members = [(m.network, self._depth_order(cfg, m.network)) for m in self._load_members(cfg.eval.ensemble)]
        for net in [model.network] + [n for n, _ in members]:
            if cfg.eval.compile_renderer is not False and net.kind == "maps" and net.render_fn is render_skeleton_maps:
                after = 0.0 if cfg.eval.compile_renderer else COMPILE_AFTER_SECONDS
                net.render_fn = compiled_renderer(dynamic=True, after_seconds=after)  # same maps, faster
        if not members:
            def fn(sample):
                return predict_sequence(model.network, sample, order, bs, flip=cfg.eval.flip)

            return fn

        def fn_ensemble(sample):
            return average_lifters([predict_sequence(model.network, sample, order, bs, flip=cfg.eval.flip)]
                                   + [predict_sequence(net, sample, o, bs, flip=cfg.eval.flip) for net, o in members])

        return fn_ensemble

    @staticmethod
    def _load_members(names) -> list:
        """The lifters of ``--ensemble`` (bundled names or weights files), each checked to be a lifter."""
        from ..tasks.loading import load

        out = []
        for name in names or []:
            m = load(str(name), task="pose3d")
            if getattr(m.network, "kind", None) not in ("maps", "keypoints"):
                raise UserError(f"--ensemble {name}: not a lifter (a maps or keypoints model), got "
                                f"{getattr(m.network, 'kind', '?')}")
            out.append(m)
        return out

    @staticmethod
    def _check_lifter(model) -> None:
        if getattr(model.network, "kind", None) == "image":
            raise UserError(f"{model.name} is an image -> maps network: evaluate it with --input synthetic "
                            f"--maps-model {model.source or model.name} (the lifter comes from --model/--weights)")

    def _synthetic_predictor(self, model, cfg: Pose3DConfig):
        import torch

        from ..tasks.loading import load
        from .inference import predict_synthetic_sequence
        from .maps_data import list_backgrounds
        from .synthetic import Backgrounds

        if model.network.kind != "maps":
            raise UserError(f"--input synthetic needs a skeleton-map lifter (model.kind maps), got "
                            f"{model.network.kind} ({model.name})")
        maps = load(cfg.eval.maps_model or DEFAULT_MAPS_MODEL, task="pose3d")
        if getattr(maps.network, "kind", None) != "image":
            raise UserError(f"--maps-model {maps.name}: not an image -> maps network")
        maps.network.to(memory_format=torch.channels_last).eval()
        backgrounds = Backgrounds(list_backgrounds(cfg.eval.backgrounds, "eval.backgrounds"))  # decoded once

        def fn(sample):
            return predict_synthetic_sequence(maps.network, model.network, sample, backgrounds)

        return fn

    # ------------------------------------------------------------------------------------------ prediction
    def predictor(self, model, options: Optional[Pose3DPredictOptions] = None):
        from ..tasks.loading import load
        from .inference import predict_image

        o = self.options_or_defaults(options)
        check(o)
        check_box(o.box)
        if getattr(model.network, "kind", None) == "image":
            raise UserError(f"{model.name} is an image -> maps network: pass it as --maps-model (the lifter is "
                            f"--model/--weights)")
        p2d = load(o.pose2d_model, task="pose2d")
        if p2d.layout is None or p2d.layout.name != "lsp14":
            raise UserError(f"--pose2d-model: a model with LSP 14 joints is needed, got "
                            f"{getattr(p2d.layout, 'name', '?')}")

        maps_net = None
        choice = o.maps_model
        if choice is not None and str(choice).lower() != "none":
            if getattr(model.network, "kind", None) != "maps":
                raise UserError(f"--maps-model needs a skeleton-map lifter, {model.name} is "
                                f"{getattr(model.network, 'kind', '?')}")
            m = load(choice, task="pose3d")
            if getattr(m.network, "kind", None) != "image":
                raise UserError(f"--maps-model {m.name}: not an image -> maps network")
            if not (m.network.widths == list(model.network.widths) and m.network.map_size == model.network.map_size
                    and abs(m.network.box_scale - model.network.box_scale) < 1e-6
                    and all(c == 1.0 for c in model.network.crops)):
                raise UserError(f"--maps-model {m.name} draws widths {m.network.widths} at {m.network.map_size} px, "
                                f"{model.name} reads {list(model.network.widths)} at {model.network.map_size} px "
                                f"(crops {list(model.network.crops)})")
            maps_net = m.network.eval()

        names = [str(n) for n in o.ensemble]
        members = [(n, m.network) for n, m in zip(names, self._load_members(names))]  # named as given, as eval

        def fn(image):
            check_box(o.box, image.shape)
            out = predict_image(model.network, p2d, image, box=o.box, maps_net=maps_net, flip=o.flip,
                                members=members, name=model.name)
            found = int(np.sum(np.nan_to_num(np.asarray(out["scores_2d"], np.float64)) >= PERSON_SCORE))
            if found < o.min_joints:
                raise UserError(f"no person found: the 2D model found {found} of {len(out['scores_2d'])} joints "
                                f"with score >= {PERSON_SCORE:g} (--min-joints {o.min_joints}), so no 3D pose")
            visible = out.get("visible_2d")
            if visible is not None:
                legs = int(np.sum(np.asarray(visible, bool)[list(LEG_JOINTS_LSP)]))
                if legs < o.min_leg_joints:
                    raise UserError(f"upper body only: the 2D model sees {legs} of the 6 hips, knees and ankles "
                                    f"(--min-leg-joints {o.min_leg_joints}), and a 3D pose is lifted from the hips: "
                                    f"none for this photo")
            return out

        return fn

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None,
              options: Optional[Pose3DPredictOptions] = None) -> List[Path]:
        from .writer import write_result

        return write_result(result, image, out_dir, name, source=source)

    def to_json(self, result, image) -> Dict[str, Any]:
        """The record of ``<name>_pose3d.json`` (:func:`~structnet.pose3d.writer.pose3d_to_json`) without its
        ``image`` field."""
        from .writer import pose3d_to_json

        rec = pose3d_to_json(result, "", image.shape[1], image.shape[0])
        rec.pop("image", None)
        return rec

    def describe(self, result) -> str:
        h = result.get("hypothesis")
        n = len(result.get("hypotheses") or [])
        src = f", maps from {result['maps_from']}" if result.get("maps_from") else ""
        if result.get("ensemble"):
            src += f", pose the mean of {len(result['ensemble'])} lifters"
        return f"hypothesis {h + 1} of {n}{src}" if h is not None and n else src.lstrip(", ")


TASK = Pose3DTask()
