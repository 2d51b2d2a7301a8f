"""The task contract: the slots every task fills, and the evaluator protocol.

A task is one object (a :class:`Task` subclass instance, registered in :mod:`structnet.tasks`) whose methods are
the *slots* the generic code calls (:mod:`structnet.tasks.run`, ``structnet/cli.py``):

=========================  =========================================================================================
slot                       used by
=========================  =========================================================================================
``config_class``           ``structnet train|eval <task> --config``: the typed config (engine/config.py); the fields
                           of its ``eval`` section made with :func:`~structnet.tasks.options.option` are the flags
                           of ``structnet eval <task>`` (their defaults are the section's)
``predict_options``        ``predict``: the dataclass of the predict flags (:mod:`structnet.tasks.options`); an
                           instance goes to ``predictor`` and ``write``
``score_options``          ``score``: the dataclass of the score flags; an instance goes to ``score``
``build_model(cfg)``       training: a fresh network (backbone + heads) from ``cfg.model``
``model_metadata``         training: what a weights file needs to rebuild the network (stored in its metadata)
``model_from_metadata``    the hub (:func:`structnet.hub.load`): weights file -> :class:`~structnet.hub.LoadedModel`
``save_model``             training and ``benchmarks/bundle_*_model.py``: writes a weights file with its metadata
                           (``meta`` + ``structnet_task``; for a bundled model also its name, training command and
                           ``bundle_metadata``)
``bundle_metadata``        ``save_model``: the stored settings (what ``model_from_metadata`` reads as the model's
                           defaults) and headline results (what ``headline`` shows) of a bundled model, from its
                           evaluation and settings
``build_train_dataset``    training: samples -> (transforms, target encoding) -> dicts the loss reads
``build_loss(cfg)``        training: ``loss_fn(model, batch) -> {name: scalar}``
``build_training(cfg)``    training: :class:`Training` (dataset, loss, hooks) built together; the default calls the
                           two slots above and ``train_hooks``
``build_eval_dataset``     ``eval``: raw samples with ground truth
``eval_predictor``         ``eval``: ``sample -> prediction`` with a loaded model
``build_evaluator``        ``eval`` and ``score``: an :class:`Evaluator` (reset / process / summarize)
``predictor(model, opt)``  ``predict``: ``image (H, W, 3) uint8 -> result``, ``opt`` a ``predict_options``
                           instance (None: its defaults; the model's stored settings fill what it leaves open)
``write(..., options)``    ``predict``: ``result -> files`` in the published formats
``onnx_spec(model)``       optional: what of the network ``--backend onnxruntime`` exports (None: not exportable)
``to_json``                ``analyze`` and ``serve`` (:mod:`structnet.analysis`): a result as a JSON-ready dict
``preview_suffixes``       ``analyze`` and ``serve``: the files of ``write`` that show the result to a person (overlays)
=========================  =========================================================================================

The task object holds no state between slots: everything a slot needs comes in its arguments.

Optional slots have defaults here (no init hook, no extra CLI flags, no scoring of prediction files).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import options as _options

__all__ = ["Task", "Evaluator", "Training", "HALF_STORAGE"]

#: The ``storage`` note of a weights file saved with float16 kernels (:func:`structnet.nn.weights.half_kernels`).
HALF_STORAGE = "float16 kernels, float32 biases and norm statistics"


@dataclass
class Training:
    """What :meth:`Task.build_training` returns: the training dataset, ``loss_fn(model, batch)`` and trainer hooks."""

    dataset: Any
    loss: Callable
    hooks: List[Any] = field(default_factory=list)


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
    replaces an earlier run's files by them), ``preview_suffixes`` (those of ``output_suffixes`` that are pictures
for a person, in the order a report shows them: overlays, not label or 16-bit maps), ``predict_options`` / ``score_options`` (dataclasses of
    :func:`~structnet.tasks.options.option` fields: the flags of ``predict`` / ``score``)."""

    name: str = ""
    summary: str = ""
    config_class: Optional[type] = None
    predict_options: Optional[type] = None
    score_options: Optional[type] = None
    default_model: Optional[str] = None
    default_eval_config: Optional[str] = None
    outputs: str = ""
    output_suffixes: Tuple[str, ...] = ()
    preview_suffixes: Tuple[str, ...] = ()

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
        """The bundled model ``predict`` / ``eval`` load when neither ``--model`` nor ``--weights`` is given;
        ``options``: the predict options or the config's eval section (default: ``default_model``; a task with
        several labellings picks by its own option)."""
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

    def save_model(self, net, path, meta: Mapping[str, Any], *, name: Optional[str] = None,
                   config: Optional[str] = None, budget: Optional[str] = None,
                   evaluation: Optional[Mapping[str, Any]] = None, settings: Optional[Mapping[str, Any]] = None,
                   half: bool = False) -> Path:
        """Write ``net`` as a weights file of this task (:func:`structnet.nn.weights.save_weights`); returns the path.

        The metadata is ``meta`` (what rebuilds the network, :meth:`model_metadata`, and what the training run
        records), then, where given, ``name``, ``command`` (``structnet train <task> --config <config>``),
        ``budget`` and ``storage`` (:data:`HALF_STORAGE` when ``half``: float16 kernels), then
        :meth:`bundle_metadata` of ``evaluation`` and ``settings`` (when either is given), and ``structnet_task``.
        Values that are not strings are stored as JSON."""
        from ..nn.weights import save_weights

        out = dict(meta)
        if name is not None:
            out["name"] = name
        if config is not None:
            out["command"] = f"structnet train {self.name} --config {config}"
        if budget is not None:
            out["budget"] = budget
        if half:
            out["storage"] = HALF_STORAGE
        if evaluation is not None or settings is not None:
            out.update(self.bundle_metadata(evaluation or {}, settings or {}))
        out["structnet_task"] = self.name
        return save_weights(net, path, out, half=half)

    def bundle_metadata(self, evaluation: Mapping[str, Any], settings: Mapping[str, Any]) -> Dict[str, str]:
        """The metadata keys of a bundled model that come from its evaluation (the results :meth:`headline` shows)
        and its settings (defaults :meth:`model_from_metadata` gives the loaded model); what ``evaluation`` and
        ``settings`` hold is the task's (its override says). Default: none."""
        return {}

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

    def build_training(self, cfg) -> Training:
        """Dataset, loss and hooks of a training run, built together (default: the three slots above; a task whose
        hooks share objects with its loss overrides this)."""
        return Training(self.build_train_dataset(cfg), self.build_loss(cfg), list(self.train_hooks(cfg)))

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

    @property
    def eval_options(self) -> Optional[type]:
        """The dataclass of the config's ``eval`` section (whose :func:`~structnet.tasks.options.option` fields are
        the task's eval flags), or None."""
        if self.config_class is None:
            return None
        import dataclasses

        for f in dataclasses.fields(self.config_class):
            if f.name == "eval" and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                return type(f.default_factory())  # type: ignore[misc]
        return None

    def add_eval_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Task flags of ``structnet eval <task>``: the option fields of the eval section (flags not given are
        None and keep the config's value)."""
        if self.eval_options is not None:
            _options.add_arguments(parser, self.eval_options, keep_defaults=False)

    def apply_eval_arguments(self, cfg, args: argparse.Namespace) -> None:
        """Copy the eval flags given into ``cfg.eval``."""
        _options.apply_args(cfg.eval, args)

    # ------------------------------------------------------------------------------------------ prediction
    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Task flags of ``structnet predict <task>``: the fields of ``predict_options`` (default: none)."""
        if self.predict_options is not None:
            _options.add_arguments(parser, self.predict_options)

    def predict_options_from(self, args: argparse.Namespace):
        """The ``predict_options`` instance of parsed flags (the namespace itself for a task without them)."""
        return args if self.predict_options is None else _options.from_args(self.predict_options, args)

    def options_or_defaults(self, options):
        """``options``, or the defaults of ``predict_options`` when None."""
        return self.predict_options() if options is None and self.predict_options is not None else options

    def predictor(self, model, options=None) -> Callable:
        """``fn(image) -> result`` for an RGB uint8 ``(H, W, 3)`` image, with a ``predict_options`` instance (None:
        the defaults; the CLI builds it from the flags). Per-image problems (e.g. a ``--box`` outside this image,
        no person found) raise UserError; the batch goes on."""
        raise NotImplementedError

    def write(self, result, image, out_dir: Path, name: str, source: Optional[Path] = None,
              options=None) -> List[Path]:
        """Write ``result`` for one image as ``out_dir/<name>_<task name>...`` files (``output_suffixes``;
        ``options``: the predict options, e.g. which optional files to write); returns their paths."""
        raise NotImplementedError

    def describe(self, result) -> str:
        """One line about a result for the CLI (default: empty)."""
        return ""

    def to_json(self, result, image) -> Dict[str, Any]:
        """A result of ``predictor`` as a JSON-ready dict (plain Python numbers, lists and strings) for ``analyze``
        and the web API; ``image``: the RGB uint8 image it came from. Default: the result's scalar entries."""
        return {k: v for k, v in result.items() if isinstance(v, (bool, int, float, str)) or v is None}

    # ---------------------------------------------------------------------------------------------- scoring
    def add_score_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Flags of ``structnet score <task>``: the fields of ``score_options``."""
        if self.score_options is not None:
            _options.add_arguments(parser, self.score_options)

    def score_options_from(self, args: argparse.Namespace):
        """The ``score_options`` instance of parsed flags (the namespace itself for a task without them)."""
        return args if self.score_options is None else _options.from_args(self.score_options, args)

    def score(self, options):
        """Score prediction files (``options``: a ``score_options`` instance): returns ``(summary, evaluator,
        failures)``. None: the task has no scoring."""
        return None

    def negative_value_flags(self) -> List[str]:
        """Flags of this task whose values may start with ``-`` (e.g. ``--box -100,...``)."""
        out: List[str] = []
        for cls in (self.predict_options, self.eval_options, self.score_options):
            if cls is not None:
                out += _options.negative_flags(cls)
        return out

    @property
    def can_score(self) -> bool:
        return type(self).score is not Task.score

    def __repr__(self) -> str:
        return f"<structnet task {self.name!r}>"
