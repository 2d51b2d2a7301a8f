"""The task contract: the slots every task fills, and the evaluator protocol.

A task is one object (a :class:`Task` subclass instance, registered in :mod:`structnet.tasks`) whose methods are
the *slots* the generic code calls (:mod:`structnet.tasks.run`, ``structnet/cli.py``):

========================  ==========================================================================================
slot                      used by
========================  ==========================================================================================
``config_class``          ``structnet train|eval <task> --config``: the typed config (engine/config.py)
``build_model(cfg)``      training: a fresh network (backbone + heads) from ``cfg.model``
``model_metadata``        training: what a weights file needs to rebuild the network (stored in its metadata)
``model_from_metadata``   the hub (:func:`structnet.hub.load`): weights file -> :class:`~structnet.hub.LoadedModel`
``build_train_dataset``   training: samples -> (transforms, target encoding) -> dicts the loss reads
``build_loss(cfg)``       training: ``loss_fn(model, batch) -> {name: scalar}``
``build_eval_dataset``    ``eval``: raw samples with ground truth
``eval_predictor``        ``eval``: ``sample -> prediction`` with a loaded model
``build_evaluator``       ``eval`` and ``score``: an :class:`Evaluator` (reset / process / summarize)
``predictor(model, opt)`` ``predict``: ``image (H, W, 3) uint8 -> result``
``write(...)``            ``predict``: ``result -> files`` in the published formats
``onnx_spec(model)``      optional: what of the network ``--backend onnxruntime`` exports (None: not exportable)
========================  ==========================================================================================

Optional slots have defaults here (no init hook, no extra CLI flags, no scoring of prediction files).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["Task", "Evaluator"]


class Evaluator:
    """Accumulates a metric over a dataset, one sample at a time (detectron2's ``DatasetEvaluator`` protocol).

    ``reset()`` starts afresh, ``process(sample, prediction)`` adds one sample (``sample`` is the dataset's dict
    with its ground truth, ``prediction`` what the task's eval predictor returned for it), ``summarize()`` returns
    a JSON-ready dict with at least ``n`` (samples processed), and ``format(summary)`` the text the CLI prints."""

    def reset(self) -> None:
        raise NotImplementedError

    def process(self, sample: Dict[str, Any], prediction: Any) -> None:
        raise NotImplementedError

    def summarize(self) -> Dict[str, Any]:
        raise NotImplementedError

    def format(self, summary: Dict[str, Any]) -> str:
        return "\n".join(f"{k}: {v}" for k, v in summary.items() if not isinstance(v, (dict, list)))


class Task:
    """Base class of a task: subclasses set the attributes and override the slots (module docstring).

    Attributes: ``name`` (the CLI word), ``summary`` (one line for ``--help``), ``config_class`` (a dataclass
    with ``model``, ``train``, ``optim``, ``schedule`` and ``eval`` sections), ``default_model`` (bundled model
    name used when ``--model`` is not given, or None), ``default_eval_config`` (packaged config name whose
    ``eval`` section ``structnet eval`` uses when no ``--config`` is given; None = the dataclass defaults),
    ``outputs`` (what ``predict`` writes per image, for ``--help``), ``output_suffixes`` (the ends of every file name
    ``write`` may give an output name: ``("_skeleton.png", "_skeleton_overlay.png", ...)``; each starts with
    ``_<task name>``, so that tasks sharing an output folder never write the same file, and ``predict`` refuses or
    replaces an earlier run's files by them)."""

    name: str = ""
    summary: str = ""
    config_class: Optional[type] = None
    default_model: Optional[str] = None
    default_eval_config: Optional[str] = None
    outputs: str = ""
    output_suffixes: Tuple[str, ...] = ()

    REQUIRED = ("build_model", "model_metadata", "model_from_metadata", "build_train_dataset", "build_loss",
                "build_eval_dataset", "eval_predictor", "build_evaluator", "predictor", "write")

    def check_slots(self) -> None:
        """TypeError naming the required slots a task leaves unfilled (called by ``register``)."""
        missing = [s for s in self.REQUIRED if getattr(type(self), s) is getattr(Task, s)]
        if self.config_class is None:
            missing.insert(0, "config_class")
        if missing:
            raise TypeError(f"task {self.name!r} does not fill the slot(s): {', '.join(missing)}")

    # ----------------------------------------------------------------------------------------------- model
    def build_model(self, cfg):
        """A fresh network for ``cfg`` (pretrained backbone weights as ``cfg.model`` says)."""
        raise NotImplementedError

    def default_model_for(self, options) -> Optional[str]:
        """The bundled model ``predict`` / ``eval`` load when neither ``--model`` nor ``--weights`` is given, from
        the parsed flags (default: ``default_model``; a task with several labellings picks by its own flag)."""
        return self.default_model

    def load_init(self, net, path: Path) -> None:
        """Initialise ``net`` from the weights file ``cfg.model.init`` names (default: same names and shapes)."""
        from ..nn.weights import load_weights

        load_weights(net, path)

    def prepare_model(self, cfg, net) -> None:
        """After init, before training: e.g. freeze parts (default: nothing)."""

    def model_metadata(self, cfg, net) -> Dict[str, Any]:
        """Metadata stored with trained weights; ``model_from_metadata`` must rebuild the network from it."""
        raise NotImplementedError

    def model_from_metadata(self, meta: Dict[str, Any], path: Path):
        """A :class:`~structnet.hub.LoadedModel` (weights loaded) from a file's decoded metadata."""
        raise NotImplementedError

    def headline(self, meta: Dict[str, Any]) -> str:
        """The headline score of a bundled model for ``structnet models`` (from its metadata)."""
        return ""

    def onnx_spec(self, model):
        """What ``--backend onnxruntime`` exports of a loaded model's network
        (:class:`structnet.nn.onnx_backend.OnnxSpec`), or None when the task has no export (the default)."""
        return None

    # -------------------------------------------------------------------------------------------- training
    def check_config(self, cfg) -> None:
        """Refuse (UserError) or normalise config combinations before training (default: nothing)."""

    def build_train_dataset(self, cfg):
        raise NotImplementedError

    def build_loss(self, cfg) -> Callable:
        raise NotImplementedError

    def train_hooks(self, cfg) -> List[Any]:
        """Extra trainer hooks (default: none)."""
        return []

    def train_eval_fn(self, cfg) -> Optional[Callable]:
        """``eval_fn(model) -> {metric: float}`` run every ``train.eval_every`` steps (default: none)."""
        return None

    # ------------------------------------------------------------------------------------------ evaluation
    def build_eval_dataset(self, cfg, max_images: Optional[int] = None):
        raise NotImplementedError

    def eval_predictor(self, model, cfg) -> Callable[[Dict[str, Any]], Any]:
        raise NotImplementedError

    def build_evaluator(self, cfg, model=None) -> Evaluator:
        raise NotImplementedError

    def check_eval(self, cfg, model) -> None:
        """Refuse a model that does not fit the eval dataset (e.g. other joints) before any work."""

    def add_eval_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Task flags of ``structnet eval <task>`` (default: none; ``apply_eval_arguments`` moves them into cfg)."""

    def apply_eval_arguments(self, cfg, args: argparse.Namespace) -> None:
        """Copy the task's eval flags into ``cfg.eval`` (default: nothing)."""

    # ------------------------------------------------------------------------------------------ prediction
    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Task flags of ``structnet predict <task>`` (default: none)."""

    def predictor(self, model, options: argparse.Namespace) -> Callable:
        """``fn(image) -> result`` for an RGB uint8 ``(H, W, 3)`` image, with the options of the predict flags.
        Per-image problems (e.g. a ``--box`` outside this image) raise UserError; the batch goes on."""
        raise NotImplementedError

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None) -> List[Path]:
        """Write ``result`` for one image as ``out_dir/<name>_<task name>...`` files (``output_suffixes``); returns
        their paths."""
        raise NotImplementedError

    def describe(self, result) -> str:
        """One line about a result for the CLI (default: empty)."""
        return ""

    # ---------------------------------------------------------------------------------------------- scoring
    def add_score_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Flags of ``structnet score <task>`` (tasks that score prediction files override this and ``score``)."""

    def score(self, args: argparse.Namespace):
        """Score prediction files: returns ``(summary, evaluator, failures)``. None: the task has no scoring."""
        return None

    @property
    def can_score(self) -> bool:
        return type(self).score is not Task.score

    def __repr__(self) -> str:
        return f"<structnet task {self.name!r}>"
