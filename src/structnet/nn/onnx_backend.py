"""Run a trained network with ONNX Runtime instead of PyTorch: the ``--backend`` of ``predict`` and ``eval``.

Why: on a CPU, ONNX Runtime fuses convolution + BatchNorm + activation and has faster depthwise kernels than
PyTorch's eager mode. For the bundled pose model (EfficientNet-Lite0 + decoder + MSR-net, one 192x192 window
with the flip test) it is the difference between missing and meeting a budget of 50 ms per person
(``benchmarks/bench_pose2d_inference.py`` measures both; docs/usage.md). The numbers are the same: the exported graph is
the float32 network, and its heatmaps match PyTorch's to about 1e-6 (``tests/test_onnx_backend.py``).

How
---
* :func:`export_onnx` traces a network with ``torch.onnx.export`` (the TorchScript exporter, which needs the
  ``onnx`` package; opset :data:`OPSET`) for one input shape, the batch axis left free, keeping the outputs
  ``output_fn(net(x))`` selects (a task says which in its :meth:`~structnet.tasks.base.Task.onnx_spec`).
* :func:`onnx_network` does that once per weights file: the graph is cached in
  ``$STRUCTNET_CACHE/onnx`` (default ``$XDG_CACHE_HOME/structnet`` or ``~/.cache/structnet``) under a name
  that hashes the weights file's bytes, the input shape, the outputs, the opset and the torch / structnet
  versions, written atomically (a crash never leaves a half file that later loads); a cached file that ONNX
  Runtime cannot read is exported again. Where the cache cannot be written the graph lives in memory only.
* :class:`OnnxNetwork` is an ``nn.Module`` without parameters around an ``onnxruntime.InferenceSession``
  (CPU, ``intra_op_num_threads`` = torch's thread count at load time, i.e. ``--threads``; idle threads do not
  spin, since PyTorch's threads work between the runs): ``forward(x)``
  takes a float32 CPU tensor (N, C, H, W) and returns a tensor (one output) or a dict of tensors, so inference
  code written for the torch network runs it unchanged.
* :func:`resolve_backend`: ``torch``; ``onnxruntime`` (an error naming what is missing when it cannot run:
  the packages, a task without an export, a GPU device, bfloat16); ``auto`` = ``onnxruntime`` where it can
  run and the precision is float32 on the CPU, else ``torch``.

Install: ``pip install "structnet[onnx]"`` (``onnx`` + ``onnxruntime``; ``make setup`` installs them).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ..atomic import atomic_write
from ..errors import UserError

__all__ = ["BACKENDS", "OPSET", "OnnxSpec", "OnnxNetwork", "onnxruntime_available", "export_onnx", "onnx_network",
           "resolve_backend", "cache_dir"]

#: The ``--backend`` choices.
BACKENDS = ("auto", "torch", "onnxruntime")
#: ONNX opset of the exported graphs.
OPSET = 17
_INSTALL = 'pip install "structnet[onnx]" (onnx + onnxruntime)'


@dataclass(frozen=True)
class OnnxSpec:
    """What to export of a task's network: the input shape ``(1, C, H, W)`` (the batch axis stays free), the
    function that picks the output tensor(s) from the network's output, and their names."""

    input_shape: Tuple[int, ...]
    output_fn: Callable
    output_names: Tuple[str, ...]


@functools.lru_cache(maxsize=1)
def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` imports (a broken install counts as absent, so ``auto`` falls back to PyTorch) and
    ``onnx`` (needed for the export) is installed."""
    if importlib.util.find_spec("onnx") is None:
        return False
    try:
        import onnxruntime  # noqa: F401
    except Exception:  # ImportError, or a binary that does not load on this machine
        return False
    return True


def cache_dir() -> Path:
    """``$STRUCTNET_CACHE``, else ``$XDG_CACHE_HOME/structnet``, else ``~/.cache/structnet``."""
    env = os.environ.get("STRUCTNET_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "structnet"


class _Selected(nn.Module):
    """``output_fn(net(x))`` as a module returning a tensor or a tuple of tensors (what the exporter traces)."""

    def __init__(self, net: nn.Module, output_fn: Callable):
        super().__init__()
        self.net, self.output_fn = net, output_fn

    def forward(self, x):
        out = self.output_fn(self.net(x))
        return tuple(out) if isinstance(out, (list, tuple)) else out


def export_onnx(net: nn.Module, spec: OnnxSpec) -> bytes:
    """The ONNX graph (serialized bytes) of ``net`` in eval mode, float32, for ``spec`` (batch axis free)."""
    if importlib.util.find_spec("onnx") is None:
        raise UserError(f"exporting to ONNX needs the onnx package: {_INSTALL}")
    was = net.training
    net.eval()
    x = torch.zeros(spec.input_shape, dtype=torch.float32)
    dyn = {"input": {0: "batch"}, **{n: {0: "batch"} for n in spec.output_names}}
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints from shapes: shapes are fixed here
            torch.onnx.export(_Selected(net, spec.output_fn), (x,), buf, input_names=["input"],
                              output_names=list(spec.output_names), dynamic_axes=dyn, opset_version=OPSET,
                              dynamo=False)
    finally:
        net.train(was)
    return buf.getvalue()


class OnnxNetwork(nn.Module):
    """An ONNX Runtime session as a parameter-free module (module docstring). ``model``: a ``.onnx`` file or the
    graph's bytes; ``output_names``: the outputs to return (one -> a tensor, several -> a dict); ``threads``:
    intra-op threads (default: torch's current thread count). ``source`` names the graph in messages."""

    def __init__(self, model: Union[str, Path, bytes], output_names: Sequence[str], threads: Optional[int] = None,
                 source: Optional[str] = None):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise UserError(f"the onnxruntime backend needs onnxruntime ({e}): {_INSTALL}") from None
        self.threads = int(threads) if threads else torch.get_num_threads()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # idle ORT threads must not spin: between runs PyTorch's own threads crop and decode, and spinning pools
        # fight over the cores (2 threads on 2 cores: 48 ms per window with spinning, 34 ms without)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.source = source or (str(model) if not isinstance(model, bytes) else "<in memory>")
        data = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = tuple(output_names)
        known = {o.name for o in self.session.get_outputs()}
        missing = [n for n in self.output_names if n not in known]
        if missing:
            raise UserError(f"{self.source}: the ONNX graph has no output(s) {', '.join(missing)} "
                            f"(it has {', '.join(sorted(known))})")

    def forward(self, x: torch.Tensor):
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(f"expected a (N, C, H, W) tensor, got {type(x).__name__} "
                             f"{tuple(getattr(x, 'shape', ()))}")
        if x.device.type != "cpu":
            raise UserError(f"the onnxruntime backend runs on the CPU; got a tensor on {x.device}")
        arr = x.detach().to(torch.float32).contiguous().numpy()
        outs = self.session.run(list(self.output_names), {self.input_name: arr})
        tens = [torch.from_numpy(o) for o in outs]
        return tens[0] if len(tens) == 1 else dict(zip(self.output_names, tens))

    def extra_repr(self) -> str:
        return f"source={self.source!r}, threads={self.threads}, outputs={self.output_names}"


def _cache_key(weights: Path, spec: OnnxSpec) -> str:
    from .. import __version__

    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    h.update(repr((tuple(spec.input_shape), tuple(spec.output_names), OPSET, torch.__version__,
                   __version__)).encode())
    return h.hexdigest()[:20]


def onnx_network(net: nn.Module, weights: Union[str, Path], spec: OnnxSpec,
                 threads: Optional[int] = None) -> OnnxNetwork:
    """``net`` (loaded from the file ``weights``) as an :class:`OnnxNetwork`, exported once and cached (module
    docstring)."""
    weights = Path(weights)
    path = cache_dir() / "onnx" / f"{weights.stem}-{_cache_key(weights, spec)}.onnx"
    if path.is_file():
        try:
            return OnnxNetwork(path, spec.output_names, threads)
        except UserError:
            raise
        except Exception:  # a damaged cache file: export again
            pass
    data = export_onnx(net, spec)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(data))
    except OSError:  # read-only cache: run from memory
        return OnnxNetwork(data, spec.output_names, threads, source=f"{weights.name} (exported in memory)")
    return OnnxNetwork(path, spec.output_names, threads)


def resolve_backend(backend: str, *, spec_available: bool, task: str, device=None, precision: str = "auto") -> str:
    """``"torch"`` or ``"onnxruntime"`` for the ``--backend`` choice (module docstring); ``spec_available``:
    whether the task exports its networks. Errors are one-line :class:`UserError`."""
    from .precision import resolve_precision

    if backend not in BACKENDS:
        raise UserError(f"backend={backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return "torch"
    dev = torch.device(device) if device is not None else torch.device("cpu")
    dtype = resolve_precision(dev, precision)
    why = None
    if not spec_available:
        why = f"the {task} task has no ONNX export yet"
    elif dev.type != "cpu":
        why = f"it runs on the CPU, not on {dev}"
    elif dtype != torch.float32:
        why = f"it runs float32, and precision {precision!r} is bfloat16 here"
    elif not onnxruntime_available():
        why = f"onnxruntime / onnx are not installed: {_INSTALL}"
    if why is None:
        return "onnxruntime"
    if backend == "onnxruntime":
        raise UserError(f"--backend onnxruntime: {why}")
    return "torch"
