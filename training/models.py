"""The two CNNs of the bundled model: a shared all-convolutional backbone and a CAM head.

Both models end in ``features`` (the last feature map A, ReLU output) followed by a 1x1
convolution WITHOUT bias giving the class activation map ``cam = sum_k w_k A_k``; the logit is
an increasing pooling of that map plus one bias, ``logit = pool(cam) + b``. For such a head the
gradient of the logit with respect to A, averaged over space, is ``w_k / (h * w)`` for every
pooling whose weights sum to one, so pytorch-grad-cam's GradCAM on ``features`` equals
``ReLU(cam)`` up to a positive factor: the runtime reads Grad-CAM straight from the ONNX output.
"""

from __future__ import annotations

import torch
from torch import nn

from inference.manifest import CamPooling


def _conv_bn(c_in: int, c_out: int, stride: int, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=False),
    ]


STRIDES = (16, 8, 4)


class Backbone(nn.Module):
    """All-convolutional feature extractor with total stride 16, 8 or 4 (Shen et al. end2end style).

    ``features`` is the module whose output is the feature map A (the Grad-CAM target layer).
    ``dilations`` of the last two 3x3 convolutions widen the receptive field at the same stride and
    cost: (1, 1) sees 119 input pixels, (2, 4) sees 247 (a whole 256 crop, or 69 mm of the
    global input), enough context to tell a 20 mm mass from the tissue around it.

    ``stride`` 8 is the same network read on a twice finer grid ("shift and stitch"): the last
    stride-2 convolution runs at stride 1 and the convolutions after it are dilated twice as
    much, so the weights have the same shapes and receptive field, the cells at even (row, col)
    equal the stride-16 network's, and the others are what it gives on the input shifted by 8
    pixels (`densify`). It costs about 1.7 times the stride-16 network on the global input.
    ``stride`` 4 does the same once more: the /8 convolution runs at stride 1 too, the
    convolutions between the two at twice the dilation and the last two at four times; every
    fourth cell in each direction is the stride-16 network's.
    """

    def __init__(
        self,
        in_channels: int,
        widths: tuple[int, ...] = (16, 32, 48, 64, 96),
        dilations: tuple[int, int] = (1, 1),
        stride: int = 16,
    ) -> None:
        super().__init__()
        if stride not in STRIDES:
            raise ValueError(f"Backbone stride {stride}: expected one of {STRIDES}")
        w1, w2, w3, w4, w5 = widths
        d1, d2 = dilations
        self.in_channels = in_channels
        self.widths = tuple(widths)
        self.dilations = (d1, d2)
        self.stride = stride
        # Each stride-2 convolution run at stride 1 doubles the dilation of those after it.
        s8, g8 = (2, 1) if stride >= 8 else (1, 2)
        s16, g16 = (2, 1) if stride == 16 else (1, 16 // stride)
        layers: list[nn.Module] = []
        layers += _conv_bn(in_channels, w1, 2)  # /2
        layers += _conv_bn(w1, w2, 2)  # /4
        layers += _conv_bn(w2, w2, 1)
        layers += _conv_bn(w2, w3, s8)  # /8 (stride 16 or 8) or /4
        layers += _conv_bn(w3, w3, 1, g8)
        layers += _conv_bn(w3, w4, s16, g8)  # /16 (stride 16), /8 or /4
        layers += _conv_bn(w4, w4, 1, d1 * g16)
        layers += [
            nn.Conv2d(w4, w5, 3, padding=d2 * g16, dilation=d2 * g16, bias=False),
            nn.BatchNorm2d(w5),
        ]
        self.body = nn.Sequential(*layers)
        self.features = nn.ReLU(inplace=False)
        self.out_channels = w5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.body(x))


class CamClassifier(nn.Module):
    """Backbone + bias-free 1x1 CAM head + increasing pooling; forward gives (logit, cam).

    ``top_k`` is the number of CAM cells averaged by TOPK_MEAN pooling (the manifest's
    ``cam_pooling_k``); it is a constant of the exported graph.
    """

    def __init__(
        self,
        in_channels: int,
        pooling: CamPooling = CamPooling.TOPK_MEAN,
        top_k: int = 4,
        widths: tuple[int, ...] = (16, 32, 48, 64, 96),
        dilations: tuple[int, int] = (1, 1),
        stride: int = 16,
    ) -> None:
        super().__init__()
        self.backbone = Backbone(in_channels, widths, dilations, stride)
        self.cam_head = nn.Conv2d(self.backbone.out_channels, 1, 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(1))
        self.pooling = CamPooling(pooling)
        self.top_k = top_k

    @property
    def target_layer(self) -> nn.Module:
        """The module producing the feature map A (pytorch-grad-cam target layer)."""
        return self.backbone.features

    def pool(self, cam: torch.Tensor) -> torch.Tensor:
        """Pool a [N, 1, h, w] CAM into [N, 1] (without the bias)."""
        flat = cam.flatten(1)
        if self.pooling == CamPooling.AVG:
            return flat.mean(dim=1, keepdim=True)
        if self.pooling == CamPooling.MAX:
            return flat.max(dim=1, keepdim=True).values
        k = min(self.top_k, int(flat.shape[1]))
        return torch.topk(flat, k, dim=1).values.mean(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cam = self.cam_head(self.backbone(x))
        return self.pool(cam) + self.bias, cam


def densify(model: CamClassifier, top_k: int | None = None, stride: int = 8) -> CamClassifier:
    """The copy of ``model`` on the finer grid of ``stride`` (same weights; see `Backbone`), eval
    mode.

    Its cam has (model stride / stride)^2 times the cells, so a TOPK_MEAN pooling over the same
    area needs that many times the k: ``top_k`` defaults to ``model.top_k`` times that."""
    bb = model.backbone
    if stride not in STRIDES or stride >= bb.stride:
        raise ValueError(
            f"densify: stride {stride} for a model of stride {bb.stride}: expected a finer one "
            f"of {STRIDES}"
        )
    cells = (bb.stride // stride) ** 2
    dense = CamClassifier(
        bb.in_channels,
        pooling=model.pooling,
        top_k=cells * model.top_k if top_k is None else top_k,
        widths=bb.widths,
        dilations=bb.dilations,
        stride=stride,
    )
    dense.load_state_dict(model.state_dict())
    return dense.eval()


class LogitOnly(nn.Module):
    """Wraps a CamClassifier so that forward returns only the logit (for pytorch-grad-cam)."""

    def __init__(self, model: CamClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[0]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
