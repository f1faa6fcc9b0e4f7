"""The torch modules of nk-torch's learners: an MLP and a small 2-D CNN."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU,
}


def mlp(n_in: int, layers: Sequence[int], n_out: int, dropout: float, activation: str) -> nn.Sequential:
    """Linear → activation → dropout for each hidden size, in the order given, then the output layer."""
    parts: list[nn.Module] = []
    width = n_in
    for size in layers:
        parts += [nn.Linear(width, int(size)), ACTIVATIONS[activation]()]
        if dropout > 0:
            parts.append(nn.Dropout(dropout))
        width = int(size)
    parts.append(nn.Linear(width, n_out))
    return nn.Sequential(*parts)


class Cnn(nn.Module):
    """Conv(3×3) → batch norm → activation → max-pool(2) per entry of ``channels``, average
    pooling to a 4 × 4 grid of frequency × time regions (where in frequency energy lies
    matters for voices, so it is not pooled away), then an MLP head. Input: (rows,
    n_mels · frames), reshaped to one-channel images of ``n_mels`` × frames."""

    def __init__(self, n_mels: int, channels: Sequence[int], layers: Sequence[int], n_out: int,
                 dropout: float, activation: str) -> None:
        super().__init__()
        self.n_mels = n_mels
        blocks: list[nn.Module] = []
        width = 1
        for c in channels:
            blocks += [nn.Conv2d(width, int(c), kernel_size=3, padding=1), nn.BatchNorm2d(int(c)),
                       ACTIVATIONS[activation](), nn.MaxPool2d(2, ceil_mode=True)]
            width = int(c)
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.head = mlp(width * 16, layers, n_out, dropout, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = x.reshape(len(x), 1, self.n_mels, -1)
        return self.head(self.pool(self.features(images)).flatten(1))
