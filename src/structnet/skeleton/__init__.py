"""Object skeletons with scale (Shen et al. 2017, "DeepSkeleton"): LMSDS, FSDS and the HED baseline on any
backbone of the feature contract; see docs/skeleton.md.

:mod:`.model` the networks, :mod:`.codec` scale quantisation and scale-associated targets, :mod:`.losses`,
:mod:`.gt` / :mod:`.gtio` ground truth from masks and its readers, :mod:`.datasets` SK-LARGE and mask datasets,
:mod:`.train` training, :mod:`.postprocess` NMS and thinning, :mod:`.segments` object segments from skeletons and
scales, :mod:`.metrics` the skeval protocol and segment metrics, :mod:`.evaluate`, :mod:`.inference` one image,
:mod:`.writer` the files, :mod:`.plots` PR curves, :mod:`.task` the registered task, :mod:`.config`.
"""
