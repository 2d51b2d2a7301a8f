"""Backbones behind one typed feature contract (see :mod:`structnet.backbones.base`)."""
from .base import Backbone, FeatureSpec, create_backbone, list_backbones, register_backbone

__all__ = ["Backbone", "FeatureSpec", "create_backbone", "list_backbones", "register_backbone"]
