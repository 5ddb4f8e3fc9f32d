"""Speed-ups the lesson switches on through its Config: fast 3x3 convolutions on the CPU
(NNPACK on large maps, Winograd's F(4x4, 3x3) on small ones) and an L-BFGS without TorchDynamo's
start-up. None of them knows anything of style transfer; each can be turned off
(`Config.fast_conv=False`, `--direct-conv`) for PyTorch's own path.
"""
