"""2D human pose: multi-scale structure-aware stacked hourglass (Ke et al. 2018).

Joint layouts (names, flip pairs, skeletal graph, structure-aware groups) are data: ``keypoints/layouts/*.yaml``,
read by :func:`structnet.keypoints.layouts.get_layout`.
"""
