"""Backbones behind one typed feature contract (see :mod:`structnet.backbones.base`).

Registered: ``vgg16`` (:mod:`.vgg`), ``efficientnet_lite0``, ``efficientnet_lite1``, ``efficientnet_lite2``
(:mod:`.efficientnet_lite`), ``hourglass``, ``hourglass2``, ``hourglass8`` (:mod:`.hourglass`, the stacked hourglass
of the pose network) and ``vgg_tiny`` (:mod:`.tiny`, for tests and smoke runs).
"""
from .base import Backbone, FeatureSpec, create_backbone, list_backbones, register_backbone
from .receptive_field import GridField, module_layers, receptive_fields, tap_fields
from . import efficientnet_lite, hourglass, tiny, vgg  # noqa: F401  (register the backbones)
from .efficientnet_lite import (EfficientNetLite, EfficientNetLite0, EfficientNetLite1, EfficientNetLite2,
                               load_lite0_imagenet, load_lite_imagenet)
from .hourglass import HourglassBackbone, load_hourglass_weights
from .vgg import VGG16, load_vgg16_imagenet

__all__ = ["Backbone", "FeatureSpec", "create_backbone", "list_backbones", "register_backbone",
           "receptive_fields", "module_layers", "tap_fields", "GridField", "VGG16", "load_vgg16_imagenet",
           "EfficientNetLite", "EfficientNetLite0", "EfficientNetLite1", "EfficientNetLite2", "load_lite_imagenet",
           "load_lite0_imagenet", "HourglassBackbone", "load_hourglass_weights"]
