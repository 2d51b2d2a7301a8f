"""3D human pose from skeleton maps (Wan et al. 2017, "DeepSkeleton"); see docs/pose3d.md.

2D joints (given, or from the pose2d task on a photo) are drawn as front / back skeleton maps, or an image -> maps
network draws them from the person crop; one regression network per hypothesis (stick width) lifts the maps to
root-relative 3D joints, and the hypothesis whose projection fits the 2D joints best is the answer. Martinez et
al.'s keypoint MLP is the baseline lifter.

:mod:`.skeleton` the 17-joint Human3.6M skeleton and its 15 coloured parts, :mod:`.h36m` the Human3.6M reader and
camera model, :mod:`.render` skeleton maps by a per-pixel z-buffer, :mod:`.model` the lifters (map regressors,
keypoint MLP), :mod:`.hypotheses` the selection by reprojection, :mod:`.maps_net` the image -> maps network,
:mod:`.synthetic` capsule people for training it, :mod:`.image_maps` its dataset, loss and evaluation,
:mod:`.metrics` MPJPE / P-MPJPE, :mod:`.train`, :mod:`.evaluate`, :mod:`.inference` one photo, :mod:`.writer`,
:mod:`.task` the registered task, :mod:`.config`.
"""
