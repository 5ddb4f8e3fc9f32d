"""Video without flicker (Ruder, Dosovitskiy & Brox 2016): each frame starts from the last result
warped along the optical flow, and a temporal loss holds it there wherever the flow is reliable.

`flow` computes the flow (OpenCV's DIS), `warp` moves images along it and checks where it can be
trusted, `paint` runs the lesson's `stylize` frame by frame, `clips` reads and writes videos,
GIFs and folders of frames, `steadiness` measures flicker.
"""

from .paint import Frame, stylize_video

__all__ = ["Frame", "stylize_video"]
