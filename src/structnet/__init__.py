"""structnet: deep multi-scale structure extraction from images.

Five systems, each a task of :mod:`structnet.tasks` (``structnet <verb> <task>`` on the command line, see
docs/usage.md):

* ``structnet.skeleton``: object skeletons with their scale (LMSDS / FSDS / HED, Shen et al. 2017);
* ``structnet.pose2d``: 2D human pose (MSS-net / MSR-net with the structure-aware loss, Ke et al. 2018);
* ``structnet.pose3d``: 3D human pose from skeleton maps (Wan et al. 2017), with a keypoint-MLP lifter;
* ``structnet.hypercolumn``: person parts, figure-ground and keypoints from hypercolumns (Hariharan et al. 2015);
* ``structnet.extraction``: the salient object's box and mask by joint localization and segmentation (Wang et al.
  2014).

Shared below them: ``tasks`` (the task contract and registry, generic train / eval / predict), ``hub`` (bundled
and trained models), ``backbones`` (typed feature taps), ``engine`` (configs, trainer, checkpoints), ``data``
(robust image I/O, joint transforms), ``nn`` (weights files, shared layers, precision, ONNX backend).
"""

__version__ = "0.1.0"


def analyze(image, tasks=None, name=None):
    """Every structure of one photo with the bundled default models: :func:`structnet.analysis.analyze` (an
    :class:`~structnet.analysis.Analysis`; the models load on the first call and are kept)."""
    from .analysis import analyze as _analyze

    return _analyze(image, tasks=tasks, name=name)
