"""2D human pose: multi-scale structure-aware stacked hourglass (Ke et al. 2018).

Joint layouts (names, flip pairs, skeletal graph, structure-aware groups) are data: ``pose2d/layouts/*.yaml``,
read by :func:`structnet.pose2d.layouts.get_layout`.
"""
