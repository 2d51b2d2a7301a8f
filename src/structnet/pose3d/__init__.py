"""3D human pose from skeleton maps (Wan et al. 2017, "DeepSkeleton").

One task, two model kinds under one config (``model.kind``): a *lifter* (2D joints drawn as skeleton maps -> 3D
joints, several hypotheses; :mod:`.model`) and the *image -> skeleton-map network* (:mod:`.maps_net`) whose maps a
lifter's regressors read. ``structnet predict pose3d`` runs the pose2d task's predictor (through the task registry)
for the 2D joints, then the lifter, optionally on the maps of the image network.

They stay one task rather than two registered ones because neither is a system a user runs alone: the image network
only exists to feed a lifter (its maps are drawn in the lifter's renderer, widths and person box, and its one
evaluation is the lifter's MPJPE on them), and both are judged by the same 3D protocol. ``model.kind`` picks what
``train`` builds; the weights file records its kind and the loader rebuilds the matching network.

* :mod:`.joints`: the 17-joint Human3.6M skeleton, its 15 coloured body parts, joint mappings (Stacked Hourglass
  MPII, LSP) and action names; :mod:`.h36m`: reader of the 3d-pose-baseline data layout and the camera model;
* :mod:`.render`: front / back skeleton maps (a z-buffer over coloured sticks, batched in torch), person box and
  crops; :mod:`.synthetic`: shaded capsule people for the image network's training and synthetic evaluation;
* :mod:`.config`, :mod:`.train` (model builder, config checks), :mod:`.data` (lifter datasets),
  :mod:`.maps_data` (image network datasets), :mod:`.losses`, :mod:`.metrics` (MPJPE, P-MPJPE, N-MPJPE, maps IoU),
  :mod:`.hypotheses` (reprojection and selection), :mod:`.evaluate`, :mod:`.inference`, :mod:`.writer`,
  :mod:`.task`.
"""
