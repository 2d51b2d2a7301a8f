"""VGG16 conv stack (Simonyan & Zisserman 2015) as a backbone: 13 3x3 convs, 4 max-pools, no pool5/FC.

Taps (ReLU applied): ``conv1_2`` (64 ch, stride 1), ``conv2_2`` (128, 2), ``conv3_3`` (256, 4),
``conv4_3`` (512, 8), ``conv5_3`` (512, 16). Their receptive fields (5, 14, 40, 92, 196 pixels, the
fields the LMSDS paper quantises scales by) are computed from the modules, see
:mod:`structnet.backbones.receptive_field`.

Padding: every conv has padding 1 (size-preserving) and the pools use ``ceil_mode=True``, so a tap of
stride ``s`` on an ``(H, W)`` input is ``(ceil(H / s), ceil(W / s))``. (torchvision's VGG floors instead;
the weights are the same.)

Weights: :func:`load_vgg16_imagenet` reads a local file in torchvision's key layout
(``features.0.weight`` ... ``features.28.bias``; ``classifier.*`` is ignored) as ``.pth``,
``.safetensors`` or ``.npz``; Caffe-named keys (``conv1_1.weight`` ...) are accepted too. Nothing is
downloaded at run time: get https://download.pytorch.org/models/vgg16-397923af.pth yourself and put it at
``$STRUCTNET_VGG16_WEIGHTS`` or ``~/.cache/structnet/vgg16-397923af.pth``.

Input normalisation: torchvision-style weights expect RGB in [0, 1] normalised with the ImageNet
mean/std (the class defaults). Caffe-style conversions (BGR, 0-255, mean subtraction) are loaded with
``style="caffe"`` (or a safetensors file whose metadata has ``"style": "caffe"``): the first conv's input
channels are flipped BGR -> RGB and the instance's ``mean``/``std`` become
``(123.68, 116.779, 103.939) / 255`` and ``1 / 255``, so ``(x - mean) / std`` is the Caffe input in RGB
order. Load weights before building a head on the backbone (heads copy ``mean``/``std`` when built).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .base import Backbone, FeatureSpec, register_backbone
from .receptive_field import tap_fields

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
VGG16_FILENAME = "vgg16-397923af.pth"
VGG16_ENV = "STRUCTNET_VGG16_WEIGHTS"

# (stage, convs per stage, channels)
_STAGES = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
CAFFE_MEAN_RGB = (123.68 / 255.0, 116.779 / 255.0, 103.939 / 255.0)
CAFFE_STD = (1.0 / 255.0,) * 3


class VGG16(Backbone):
    """VGG16 conv stack. ``forward(x)``: normalised ``(B, 3, H, W)`` -> ``{tap: (B, C, ceil(H/s), ceil(W/s))}``.

    ``self.features`` is an ``nn.Sequential`` with torchvision's indices (0 = conv1_1, 2 = conv1_2,
    4 = pool1, ..., 28 = conv5_3, 29 = its ReLU), so torchvision state dicts load as they are.
    """

    def __init__(self):
        super().__init__()
        layers: List[nn.Module] = []
        tap_index: List[int] = []  # index of the ReLU closing each stage
        self.conv_index: Dict[str, int] = {}
        cin = 3
        for stage, n, ch in _STAGES:
            if stage > 1:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            for i in range(1, n + 1):
                self.conv_index[f"conv{stage}_{i}"] = len(layers)
                layers += [nn.Conv2d(cin, ch, 3, padding=1), nn.ReLU(inplace=True)]
                cin = ch
            tap_index.append(len(layers) - 1)
        self.features = nn.Sequential(*layers)
        self._tap_index = tap_index
        names = [f"conv{s}_{n}" for s, n, _ in _STAGES]
        bounds = [0] + [t + 1 for t in tap_index]
        segments = [list(self.features[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        fields = tap_fields(segments)
        self.feature_specs = [FeatureSpec(nm, ch, st, rf)
                              for nm, (_, _, ch), (rf, st) in zip(names, _STAGES, fields)]
        self._tap_names = {t: nm for t, nm in zip(tap_index, names)}
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG16: expected input (B, 3, H, W), got {tuple(x.shape)}")
        out: Dict[str, torch.Tensor] = {}
        last = self._tap_index[-1]
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._tap_names:
                out[self._tap_names[i]] = x
            if i == last:
                break
        return out


def default_vgg16_weights_path() -> Path:
    """``$STRUCTNET_VGG16_WEIGHTS`` if set, else ``~/.cache/structnet/vgg16-397923af.pth``."""
    env = os.environ.get(VGG16_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "structnet" / VGG16_FILENAME


def _read_state(path: Path) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    suffix = path.suffix.lower()
    meta: Dict[str, str] = {}
    try:
        if suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                state = {k: f.get_tensor(k) for k in f.keys()}
        elif suffix == ".npz":
            with np.load(str(path), allow_pickle=False) as z:
                state = {k: torch.from_numpy(np.array(z[k])) for k in z.files if k != "__style__"}
                if "__style__" in z.files:
                    meta["style"] = str(z["__style__"])
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
                state = state["state_dict"]
    except Exception as e:  # noqa: BLE001 - one clear line naming the file
        raise ValueError(f"VGG16 weights {path}: cannot read ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"VGG16 weights {path}: expected a dict of tensors (a state dict)")
    return state, meta


def _to_torchvision_keys(state: Dict[str, torch.Tensor], model: VGG16) -> Dict[str, torch.Tensor]:
    """Keep ``features.*`` keys; map Caffe names ``conv1_1.weight`` -> ``features.0.weight``; drop the rest."""
    out: Dict[str, torch.Tensor] = {}
    for k, v in state.items():
        k2 = k[len("module."):] if k.startswith("module.") else k
        if k2.startswith("features."):
            out[k2] = v
            continue
        base, _, param = k2.rpartition(".")
        if base in model.conv_index and param in ("weight", "bias"):
            out[f"features.{model.conv_index[base]}.{param}"] = v
    return out


def load_vgg16_imagenet(model: VGG16, path: Union[str, Path], style: str = "auto") -> VGG16:
    """Load ImageNet weights from a local file into ``model`` (in place; returns it).

    path: ``.pth`` / ``.safetensors`` / ``.npz`` holding torchvision's keys (``features.N.weight``/``bias``)
    or Caffe names (``conv1_1.weight``); ``classifier.*`` and other keys are ignored; every conv must be
    present with the right shape.
    style: ``"torchvision"`` (RGB, ImageNet mean/std), ``"caffe"`` (BGR, 0-255, mean subtraction: flips the
    first conv to RGB and sets ``model.mean``/``model.std``), or ``"auto"`` (``"caffe"`` only if the file's
    metadata says ``style: caffe``, else torchvision).
    """
    if style not in ("auto", "torchvision", "caffe"):
        raise ValueError(f"style={style!r}: expected 'auto', 'torchvision' or 'caffe'")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"VGG16 weights not found at {path}: download {VGG16_URL} yourself and put it there "
                                f"(or point ${VGG16_ENV} at it); nothing is downloaded at run time")
    state, meta = _read_state(path)
    if style == "auto":
        style = "caffe" if meta.get("style", "").lower() == "caffe" else "torchvision"
    state = _to_torchvision_keys(state, model)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise ValueError(f"VGG16 weights {path}: missing {len(missing)} keys (e.g. {missing[:3]}); "
                         f"expected torchvision's features.N.weight/bias layout")
    bad = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own if state[k].shape != own[k].shape]
    if bad:
        raise ValueError(f"VGG16 weights {path}: shape mismatch {bad[0][0]}: file {bad[0][1]} vs model {bad[0][2]}")
    state = {k: state[k].to(own[k].dtype) for k in own}
    if style == "caffe":
        w0 = "features.0.weight"
        state[w0] = state[w0].flip(1).contiguous()  # BGR -> RGB input channels
        model.mean, model.std = CAFFE_MEAN_RGB, CAFFE_STD
    model.load_state_dict(state, strict=True)
    model.weights_style = style
    return model


@register_backbone
def vgg16(pretrained: bool = False, weights: Optional[Union[str, Path]] = None, style: str = "auto") -> VGG16:
    """VGG16 conv stack. ``pretrained=True`` loads ``weights`` (a local file) or, if not given,
    :func:`default_vgg16_weights_path`; a missing file raises a one-line FileNotFoundError with the URL."""
    model = VGG16()
    if pretrained or weights is not None:
        load_vgg16_imagenet(model, weights if weights is not None else default_vgg16_weights_path(), style=style)
    return model
