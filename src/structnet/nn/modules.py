"""Module helpers shared by every task: :func:`unwrap` (DDP/DataParallel -> the model) and :func:`freeze` /
:func:`unfreeze` (stop a part learning: no gradients, BatchNorm statistics fixed).

Frozen BatchNorm layers stay in eval mode through later ``.train()`` calls of any enclosing module, without the
model overriding ``train()``: :func:`freeze` gives each BatchNorm layer an instance-level ``train`` that keeps it in
eval mode (a ``functools.partial``, so frozen modules still deep-copy and pickle). :func:`unfreeze` removes it.
"""
from __future__ import annotations

import functools

from torch import nn

__all__ = ["unwrap", "freeze", "unfreeze", "is_frozen_batchnorm"]

_BN = nn.modules.batchnorm._BatchNorm


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` / ``DataParallel`` wrapper (nested ones too); any other
    module is returned as it is."""
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model


def _eval_only_train(module: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(module, False)


def is_frozen_batchnorm(module: nn.Module) -> bool:
    """True for a BatchNorm layer that :func:`freeze` keeps in eval mode."""
    t = module.__dict__.get("train")
    return isinstance(module, _BN) and isinstance(t, functools.partial) and t.func is _eval_only_train


def freeze(module: nn.Module, parameters: bool = True) -> nn.Module:
    """Stops ``module`` learning and returns it: every BatchNorm layer in it goes to eval mode and stays there
    through later ``.train()`` calls (running statistics fixed, normalisation by them), and with ``parameters``
    (default) every parameter gets ``requires_grad=False``. ``parameters=False`` only fixes the BatchNorm
    statistics (the affine weights keep learning): the small-batch set-up of the skeleton backbones."""
    module = unwrap(module)
    if parameters:
        for p in module.parameters():
            p.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, _BN) and not is_frozen_batchnorm(m):
            m.train = functools.partial(_eval_only_train, m)  # instance attribute: nn.Module.train calls it
            nn.Module.train(m, False)
    return module


def unfreeze(module: nn.Module, parameters: bool = True) -> nn.Module:
    """Undoes :func:`freeze`: BatchNorm layers follow ``.train()`` again (and take ``module``'s current mode);
    with ``parameters`` every parameter gets ``requires_grad=True``."""
    module = unwrap(module)
    if parameters:
        for p in module.parameters():
            p.requires_grad_(True)
    for m in module.modules():
        if is_frozen_batchnorm(m):
            del m.__dict__["train"]
            m.train(module.training)
    return module
