"""Keypoint dataset readers: LSP / LSP-extended, MPII (four annotation layouts) and COCO keypoints, all giving one
per-person record (:class:`PoseRecord`), plus torch ``Dataset`` wrappers that yield sample dicts.

Conventions (every reader)
--------------------------
* **Coordinates**: pixels of the original image, ``x`` = column (to the right), ``y`` = row (down), origin at the
  top-left, **pixel centres at integer coordinates** (the centre of the top-left pixel is ``(0, 0)``), the
  convention of :mod:`structnet.data.transforms`.

  - MPII annotations come from MATLAB, whose top-left pixel centre is ``(1, 1)``: with ``one_based=True`` (the
    default) the MPII readers subtract 1 from keypoints, centres and head boxes, as HRNet / mmpose do when they
    load the same files (and add 1 back before the official evaluation). PCKh is unaffected (both prediction and
    ground truth move), but compare raw file values with ``record.keypoints + 1``.
  - LSP / LSPET coordinates are used unchanged: they are continuous clicks, and the shared lspet README checks
    them against ``0 <= x <= W - 1`` (all but 4 of 61,577 visible joints inside, the 4 at most 1.17 px outside).
  - COCO keypoints are used unchanged (integer labels; HRNet / mmpose use them as pixel indices). COCO's boxes
    are continuous ``[x, y, w, h]``; the record box is ``(x, y, x + w, y + h)`` unchanged. Strictly, COCO's
    continuous frame has pixel centres at ``+0.5``; the difference (< 0.5 px) is left alone, as everyone does.

* **Joint masks**: ``annotated`` (K,) bool = the joint's location is known (use it for training targets and
  evaluation; the official PCKh counts every annotated joint, occluded ones included); ``visible`` (K,) bool =
  annotated **and** marked visible by the dataset (a subset of ``annotated``). Coordinates of joints that are not
  annotated are meaningless in every source and are set to 0.

  ================  ==========================================  ===========================================
  source            ``visible``                                 ``annotated``
  ================  ==========================================  ===========================================
  LSPET (npy/mat)   flag == 1                                   = visible (other coordinates meaningless)
  LSP joints.mat    flag == 0 (the flag means *occluded*)        all joints (occluded ones are estimated)
  MPII valid.npz    ``visible`` == 1                            ``jnt_missing`` == 0
  pose-hg h5        ``visible`` == 1                            ``part`` != (0, 0)
  pytorch-pose json ``joint_self[:, 2]`` == 1                   ``joint_self[:, :2]`` != (0, 0)
  HRNet/mmpose json = annotated (the file drops occlusion)       ``joints_vis`` == 1
  MPII RELEASE .mat ``is_visible`` == 1 (empty counts as 1)      a ``point`` with that ``id`` exists
  COCO json         v == 2                                      v >= 1 (v = 1 labelled but occluded)
  ================  ==========================================  ===========================================

  The LSP flag semantics: the original LSP ``joints.mat`` is ``(3, 14, 2000)`` and its third row is 1 for an
  *occluded* joint (all 14 locations are annotated); LSPET's ``joints.mat`` is ``(14, 3, 10000)`` and its third
  column is 1 for a *visible* joint, 0 for one that was not annotated (those coordinates lie outside the image or
  at (0, 0)). This is how the CPM / pytorch-pose preparation script ``gen_lsp.m`` reads them (it sets
  ``v = 1 - v`` for LSP only and keeps LSPET's flag); the shared lspet README confirms LSPET's meaning on the data.

* **NaN / inf coordinates** of a joint make it not annotated (and not visible), coordinates 0; each reader emits
  one ``UserWarning`` per file with the count. Wrong array shapes or contents raise a one-line ``ValueError``
  naming the file; missing files and folders raise ``FileNotFoundError`` naming the path.

* **Image files** are not opened or checked by the readers (only the image folder must exist): a record's
  ``image_path`` is where its image should be. :func:`missing_images` (records) and
  :meth:`PoseDataset.missing_images` list the ``(name, path)`` of every image file that is not there, with one
  ``stat`` per distinct file and no decoding, so an evaluation can report and skip them instead of stopping at the
  first; :meth:`PoseDataset.missing_image_indices` gives the affected record indices.

* **Person centre and scale** (:attr:`PoseRecord.center`, :attr:`PoseRecord.scale`) follow the *hourglass crop*
  convention of pose-hg-train / pytorch-pose / HRNet: the person sits in a square of side ``200 * scale`` px
  centred on ``center``. For MPII that is ``center = objpos + (0, 15 s)`` and ``scale = 1.25 s`` with ``s`` the
  MPII annotation scale (person height ~ ``200 s`` px), exactly the ``center`` / ``scale`` of pose-hg-train's
  h5 files and of ../shared/data/mpii-valid; the raw ``s`` and ``objpos`` are kept in ``meta``. Sources with a
  person box (COCO ``bbox``; LSP: the box of the annotated joints, since LSP annotates no person box) use
  :func:`box_to_center_scale`: ``center`` = box centre, ``scale = padding * max(w, h) / 200`` with
  ``padding = 1.25`` (HRNet's / mmpose's box padding). Undefined values are NaN.

* **Evaluation normaliser** (:attr:`PoseRecord.norm`, kind in :attr:`PoseRecord.norm_kind`): MPII ``"head"`` =
  ``0.6 x`` head-box diagonal (SC_BIAS of the official eval_PCKh); LSP ``"torso"`` = distance between the
  torso pair of the layout (lsp14: left shoulder - right hip, as the published eval_pck.m), NaN unless both are annotated; COCO ``"none"`` (NaN;
  COCO's OKS uses the area, kept in ``meta["area"]``).

Dataset wrappers (:class:`PoseDataset` and one subclass per source) follow the structnet key convention
(``ds[i]`` or ``ds[(i, seed)]``, see :func:`structnet.data.keys.parse_key`) and call an optional
``transform(sample, rng)`` with ``rng = np.random.default_rng(seed)`` (``seed = i`` for a plain int key), so a
sample is a pure function of its key. Augmentation and heatmap encoding are not done here.

Modules: :mod:`.records` (:class:`PoseRecord`, person-window and normaliser geometry, :func:`missing_images`),
:mod:`.base` (:class:`PoseDataset`), :mod:`.lsp` (LSP / LSP-extended), :mod:`.mpii` (MPII, all its annotation
forms), :mod:`.coco` (COCO keypoints). Every public name is importable from this package.
"""
from .base import PoseDataset, Transform
from .coco import COCOKeypointsDataset, coco_to_records
from .lsp import LSPETDataset, LSPMatDataset, read_lsp_mat, read_lspet
from .mpii import (MPII_CENTER_SHIFT, MPII_HEAD_FACTOR, MPII_SCALE_FACTOR, MPIIDataset, read_mpii, read_mpii_h5,
                   read_mpii_json, read_mpii_npz, read_mpii_release)
from .records import (BOX_PADDING, PIXEL_STD, PoseRecord, box_to_center_scale, joint_boxes, missing_images,
                      records_to_arrays, torso_norm)

__all__ = [
    "PoseRecord", "PIXEL_STD", "BOX_PADDING", "MPII_HEAD_FACTOR", "MPII_CENTER_SHIFT", "MPII_SCALE_FACTOR",
    "box_to_center_scale", "joint_boxes", "torso_norm", "records_to_arrays", "missing_images",
    "read_lspet", "read_lsp_mat", "read_mpii", "read_mpii_npz", "read_mpii_h5", "read_mpii_json",
    "read_mpii_release", "coco_to_records",
    "PoseDataset", "LSPETDataset", "LSPMatDataset", "MPIIDataset", "COCOKeypointsDataset", "Transform",
]
