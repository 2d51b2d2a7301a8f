"""Hypercolumns for fine-grained localization (Hariharan et al. 2015): per-pixel labels inside a box from the
activations of all tapped layers above each pixel, classified by a K x K grid of location-specific classifiers
interpolated bilinearly across the box. Three labellings, each a bundled model: person parts (the box is the whole
image), figure-ground and keypoints in a given box; see docs/hypercolumn.md.

Modules: :mod:`.model` (HypercolumnNet, grid interpolation, box cropping / pasting with ``grid_sample``),
:mod:`.data` (image / mask folders, training box crops), :mod:`.train` (loss), :mod:`.metrics`, :mod:`.evaluate`,
:mod:`.inference`, :mod:`.writer`, :mod:`.task` (the registered task), :mod:`.config`.
"""
