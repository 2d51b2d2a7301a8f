"""Backbones behind one typed feature contract (see :mod:`structnet.backbones.base`).

Registered: ``vgg16`` (:mod:`.vgg`), ``efficientnet_lite0`` (:mod:`.efficientnet_lite`) and ``vgg_tiny``
(:mod:`.tiny`, for tests and smoke runs).
"""
from .base import Backbone, FeatureSpec, create_backbone, list_backbones, register_backbone
from .receptive_field import module_layers, receptive_fields, tap_fields
from . import efficientnet_lite, tiny, vgg  # noqa: F401  (register the backbones)
from .efficientnet_lite import EfficientNetLite0, load_lite0_imagenet
from .vgg import VGG16, load_vgg16_imagenet

__all__ = ["Backbone", "FeatureSpec", "create_backbone", "list_backbones", "register_backbone",
           "receptive_fields", "module_layers", "tap_fields", "VGG16", "load_vgg16_imagenet",
           "EfficientNetLite0", "load_lite0_imagenet"]
