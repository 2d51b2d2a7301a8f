"""3D human pose from skeleton maps (Wan et al. 2017, "DeepSkeleton"), issue 10: work in progress.

What exists so far (each with known-answer tests in ``tests/test_pose3d_core.py``):

* :mod:`~structnet.pose3d.skeleton`: the 17-joint Human3.6M skeleton, its 15 coloured body parts, the Stacked
  Hourglass (MPII) -> H36M joint mapping, action names;
* :mod:`~structnet.pose3d.h36m`: reader of the 3d-pose-baseline data layout (poses, cameras, SH detections) and
  the camera model;
* :mod:`~structnet.pose3d.metrics`: MPJPE (protocol #1), P-MPJPE (protocol #2), per-action tables;
* :mod:`~structnet.pose3d.render`: front / back skeleton maps by a per-pixel z-buffer over coloured sticks,
  batched in torch.

The networks (image -> maps, maps -> 3D), the hypotheses and their selection, the task and its CLI are to come
(docs/pose3d.md keeps the plan).
"""
