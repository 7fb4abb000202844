"""BMI/CS 771 HW2: the file handed in (``student_code.py``).

It runs unchanged in two places: the course's ``code/`` folder (next to the course's
``main.py``, ``test_conv.py`` and helper files) and this repository, whose ``miniplaces``
package imports from it, never the other way round.  So it imports only the standard
library, torch, torchvision, numpy and OpenCV, and carries its own copies of the helper
pieces it needs (image transforms, ViT blocks) under the course's names; this
repository's ``custom_transforms.py`` and ``custom_blocks.py`` re-export them.

Course names (imported by the course's ``main.py``/``test_conv.py`` and autograder):
``CustomConv2DFunction``, ``custom_conv2d``, ``CustomConv2d``, ``SimpleNet``,
``default_cnn_model``, ``Attention``, ``TransformerBlock``, ``SimpleViT``,
``default_vit_model``, ``get_train_transforms``, ``get_val_transforms``, ``PGDAttack``,
``default_attack``, ``vis_grid``, ``default_visfunction``.  Our own CNN is
``PlacesResNet``; to train it with the course's ``main.py``, set
``default_cnn_model = PlacesResNet`` at the bottom of this file.  Adversarial training
attaches PGD to ``SimpleNet.forward``: ``SimpleNet(attacker=PGDAttack(...))``, e.g.
``default_cnn_model = functools.partial(SimpleNet, attacker=PGDAttack(nn.CrossEntropyLoss(), num_steps=3,
step_size=0.03))``.

The convolution uses only unfold-style indexing, ``fold`` and matrix products (a test
parses this file for convolution calls).
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Function
from torch.nn.modules.utils import _pair
from torchvision.utils import make_grid

__all__ = ["CustomConv2DFunction", "custom_conv2d", "CustomConv2d", "SimpleNet", "PlacesResNet", "default_cnn_model",
           "Attention", "TransformerBlock", "SimpleViT", "default_vit_model", "get_train_transforms",
           "get_val_transforms", "PGDAttack", "default_attack", "vis_grid", "default_visfunction"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


#################################################################################
# Part I.1: convolution as matrix products, with a hand-written backward
#################################################################################
def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _pointwise_input(x: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """A 1x1 kernel without padding reads every stride-th pixel: no unfold needed."""
    if stride != (1, 1):
        x = x[:, :, ::stride[0], ::stride[1]]
    return x.reshape(x.shape[0], x.shape[1], -1)  # (B, C, L); a copy only when strided


class CustomConv2DFunction(Function):
    """2-D convolution (cross-correlation) as unfold + matmul, with a hand-written backward.

    Shapes: input ``(B, C, H, W)``, weight ``(O, C, kh, kw)``, bias ``(O,)`` or None,
    output ``(B, O, Ho, Wo)``.  Only the input and weight are saved for backward (the
    same as ``F.conv2d``); the k^2-times larger unfolded input is rebuilt in backward
    instead of being kept alive between the passes.

    Strided layers (the 7x7 stem) materialise the columns; 1x1 layers need none; stride-1
    kxk layers use "implicit im2col": one GEMM per kernel tap on a shifted view of the
    padded input, which skips the k^2-times column copy (measured ~1.4x faster).
    """

    @staticmethod
    def forward(ctx, input_feats, weight, bias, stride=1, padding=0):
        stride, padding = _pair(stride), _pair(padding)
        ctx.dtypes = (input_feats.dtype, weight.dtype)
        # Under autocast compute in its dtype (saving low-precision tensors), but with
        # autocast itself off: it would re-cast the matmul and break the out= write.
        device_type = input_feats.device.type
        dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else input_feats.dtype
        input_feats, weight = input_feats.to(dtype), weight.to(dtype)
        bias = bias.to(dtype) if bias is not None else None
        batch, channels, height, width = input_feats.shape
        out_ch, in_ch, kh, kw = weight.shape
        if in_ch != channels:
            raise ValueError(f"input has {channels} channels but the weight expects {in_ch}")
        out_h, out_w = _out_size(height, kh, stride[0], padding[0]), _out_size(width, kw, stride[1], padding[1])
        ctx.save_for_backward(input_feats, weight)
        ctx.conf = (stride, padding, bias is not None)
        with torch.autocast(device_type, enabled=False):
            if _use_shifted_gemm((kh, kw), stride):
                output = _shifted_gemm_conv(input_feats, weight, padding)          # (B, O, Ho, Wo), fresh
            else:
                cols = _columns(input_feats, (kh, kw), stride, padding)            # (B, C*kh*kw, L)
                # A fresh (B, O, Ho, Wo) tensor written through its (B, O, L) view: the output
                # is not itself a view, so SimpleNet's in-place ReLU may modify it.
                output = input_feats.new_empty(batch, out_ch, out_h, out_w)
                torch.matmul(weight.reshape(out_ch, -1), cols, out=output.view(batch, out_ch, out_h * out_w))
            if bias is not None:
                output += bias.view(1, -1, 1, 1)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input_feats, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.conf
        batch, out_ch = grad_output.shape[:2]
        kernel = weight.shape[2:]
        grad_out = grad_output.to(weight.dtype).reshape(batch, out_ch, -1)        # (B, O, L)
        w_mat = weight.reshape(out_ch, -1)                                          # (O, C*kh*kw)
        grad_input = grad_weight = grad_bias = None
        shifted = _use_shifted_gemm(kernel, stride)
        if ctx.needs_input_grad[0] and shifted:
            # grad_input of a stride-1 conv: grad_output correlated with the flipped,
            # transposed kernel, padded by k - 1 - p (negative pads crop) to the input size.
            w_flip = weight.flip(2, 3).transpose(0, 1)                              # (C, O, kh, kw)
            pad = (kernel[0] - 1 - padding[0], kernel[1] - 1 - padding[1])
            grad_input = _shifted_gemm_conv(grad_output.to(weight.dtype), w_flip, pad)
        elif ctx.needs_input_grad[0]:
            # bmm on the batch-expanded weight: matmul(2-D, 3-D) would copy grad_out into (B*L, O) first
            grad_cols = torch.bmm(w_mat.t().expand(batch, -1, -1), grad_out)        # (B, C*kh*kw, L)
            grad_input = _fold(grad_cols, input_feats.shape, kernel, stride, padding)
        if ctx.needs_input_grad[1] and shifted:
            grad_weight = _shifted_gemm_weight_grad(input_feats, grad_output.to(weight.dtype), kernel, padding)
        elif ctx.needs_input_grad[1]:
            cols = _columns(input_feats, kernel, stride, padding)                   # (B, C*kh*kw, L)
            # sum_b grad_out[b] @ cols[b]^T: a batched GEMM, then a sum over the batch.
            grad_weight = torch.matmul(grad_out, cols.transpose(1, 2)).sum(0).view_as(weight)
        if has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum((0, 2))
        in_dtype, w_dtype = ctx.dtypes
        grad_input = grad_input.to(in_dtype) if grad_input is not None else None
        grad_weight = grad_weight.to(w_dtype) if grad_weight is not None else None
        grad_bias = grad_bias.to(w_dtype) if grad_bias is not None else None
        return grad_input, grad_weight, grad_bias, None, None


def _columns(x: torch.Tensor, kernel, stride, padding) -> torch.Tensor:
    """im2col: ``(B, C, H, W)`` -> ``(B, C*kh*kw, L)`` in ``F.unfold``'s (c, i, j) row order.

    1x1 kernels skip it.  Otherwise the windows are taken as a strided *view*
    (``Tensor.unfold`` on H and W) and materialised by one reshape copy, which
    measures 2-4x faster on the CPU than ``F.unfold``'s im2col.
    """
    if tuple(kernel) == (1, 1) and padding == (0, 0):
        return _pointwise_input(x, stride)
    if padding != (0, 0):
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    windows = x.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])  # (B, C, Ho, Wo, kh, kw) view
    batch, channels, out_h, out_w = windows.shape[:4]
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(batch, channels * kernel[0] * kernel[1], out_h * out_w)


def _use_shifted_gemm(kernel, stride) -> bool:
    """Stride-1 kxk layers use implicit im2col (below); strided and 1x1 layers use explicit columns."""
    return tuple(stride) == (1, 1) and tuple(kernel) != (1, 1)


def _channel_major(x: torch.Tensor, padding) -> tuple[torch.Tensor, int, int]:
    """Pad and lay out as ``(C, B*Hp*Wp)``: every pixel of every image along one row per channel."""
    x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))                 # negative pads crop
    channels, (height, width) = x.shape[1], x.shape[2:]
    return x.transpose(0, 1).reshape(channels, -1), height, width                    # (C, B*Hp*Wp)


def _shifted_gemm_conv(x: torch.Tensor, weight: torch.Tensor, padding) -> torch.Tensor:
    """Stride-1 convolution as kh*kw GEMMs over shifted views ("implicit im2col").

    In the channel-major padded layout, the input pixel under kernel tap (i, j) of the
    output at flat position p is p + i*Wp + j, so tap (i, j) contributes
    ``W[:, :, i, j] @ flat[:, p + i*Wp + j]`` for all p at once: one GEMM on a shifted
    *view*, no k^2-times column copy.  Positions whose window wraps past a row or image
    edge are computed too and cropped away; every valid position lies in the first
    ``n`` columns, so the shifted views never run past the end.
    """
    out_ch, _, kh, kw = weight.shape
    batch = x.shape[0]
    flat, height, width = _channel_major(x, padding)
    n = flat.shape[1] - ((kh - 1) * width + kw - 1)
    taps = weight.permute(2, 3, 0, 1)                                               # (kh, kw, O, C)
    acc = flat.new_zeros(out_ch, flat.shape[1])                                     # (O, B*Hp*Wp)
    head = acc[:, :n]
    for i in range(kh):
        for j in range(kw):
            head.addmm_(taps[i, j], flat[:, i * width + j:i * width + j + n])
    out = acc.view(out_ch, batch, height, width)[:, :, :height - kh + 1, :width - kw + 1]
    return out.permute(1, 0, 2, 3).contiguous()                                     # (B, O, Ho, Wo), fresh


def _shifted_gemm_weight_grad(x: torch.Tensor, grad_output: torch.Tensor, kernel, padding) -> torch.Tensor:
    """dL/dW of a stride-1 conv: for each tap, one GEMM of grad_output (zero-filled onto the
    padded grid) with the shifted input view; the zeros cancel the cropped positions."""
    out_ch, (kh, kw) = grad_output.shape[1], kernel
    flat, height, width = _channel_major(x, padding)
    out_h, out_w = grad_output.shape[2:]
    grid = grad_output.new_zeros(out_ch, x.shape[0], height, width)                 # (O, B, Hp, Wp)
    grid[:, :, :out_h, :out_w] = grad_output.transpose(0, 1)
    n = flat.shape[1] - ((kh - 1) * width + kw - 1)
    g = grid.view(out_ch, -1)[:, :n]                                                # (O, n)
    grad = flat.new_empty(kh, kw, out_ch, flat.shape[0])                            # (kh, kw, O, C)
    for i in range(kh):
        for j in range(kw):
            torch.mm(g, flat[:, i * width + j:i * width + j + n].t(), out=grad[i, j])
    return grad.permute(2, 3, 0, 1).contiguous()                                    # (O, C, kh, kw)


def _fold(grad_cols: torch.Tensor, in_shape, kernel, stride, padding) -> torch.Tensor:
    """col2im (sums overlapping windows): ``(B, C*kh*kw, L)`` -> ``(B, C, H, W)``."""
    batch, channels, height, width = in_shape
    if tuple(kernel) == (1, 1) and padding == (0, 0):
        if stride == (1, 1):
            return grad_cols.view(batch, channels, height, width)
        grad = grad_cols.new_zeros(batch, channels, height, width)
        out_h, out_w = _out_size(height, 1, stride[0], 0), _out_size(width, 1, stride[1], 0)
        grad[:, :, ::stride[0], ::stride[1]] = grad_cols.view(batch, channels, out_h, out_w)
        return grad
    return F.fold(grad_cols, (height, width), kernel, padding=padding, stride=stride)


custom_conv2d = CustomConv2DFunction.apply


class CustomConv2d(nn.Module):
    """The course's module wrapper around :func:`custom_conv2d` (the handout asks to keep it as released).

    Same interface as ``nn.Conv2d`` for square kernels: integer ``kernel_size``,
    ``stride`` and ``padding``; ``dilation`` and ``groups`` are stored for compatibility
    and not used.  Initialised like ``nn.Conv2d`` (Kaiming-uniform with a=sqrt(5)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True):
        super().__init__()
        assert isinstance(kernel_size, int), "CustomConv2d: kernel_size must be an int (square filters only)"
        assert isinstance(stride, int), "CustomConv2d: stride must be an int (equal stride only)"
        assert isinstance(padding, int), "CustomConv2d: padding must be an int (equal padding only)"
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation  # kept for compatibility, not used
        self.groups = groups      # kept for compatibility, not used
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return custom_conv2d(input, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")
        return text + (", bias=False" if self.bias is None else "")


#################################################################################
# Part I.2: convolutional networks
#################################################################################
class SimpleNet(nn.Module):
    """The course CNN (365,028 parameters at 100 classes), optionally trained adversarially.

    ``attacker`` (e.g. a :class:`PGDAttack`) turns on adversarial training, attached to
    ``forward`` as the handout suggests: in training mode the first ``adv_fraction`` of
    each batch is replaced by its PGD version (keeping clean samples in every batch keeps
    training from collapsing to chance).  The attack runs the model in eval mode, so it
    does not recurse.
    """

    def __init__(self, conv_op=nn.Conv2d, num_classes=100, attacker=None, adv_fraction=0.5):
        super().__init__()
        self.features = nn.Sequential(
            conv_op(3, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),                          # (B, 64, H/4, W/4)
            conv_op(64, 64, kernel_size=1, stride=1, padding=0), nn.ReLU(inplace=True),
            conv_op(64, 64, kernel_size=3, stride=1, padding=1), nn.ReLU(inplace=True),
            conv_op(64, 256, kernel_size=1, stride=1, padding=0), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),                          # (B, 256, H/8, W/8)
            conv_op(256, 128, kernel_size=1, stride=1, padding=0), nn.ReLU(inplace=True),
            conv_op(128, 128, kernel_size=3, stride=1, padding=1), nn.ReLU(inplace=True),
            conv_op(128, 512, kernel_size=1, stride=1, padding=0), nn.ReLU(inplace=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        self.attacker = attacker
        self.adv_fraction = adv_fraction
        self.reset_parameters()

    def reset_parameters(self):
        """Kaiming (fan-out) initialisation of every convolution, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, CustomConv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        if self.training and self.attacker is not None:
            x = self._mix_adversarial(x)
        x = self.avgpool(self.features(x)).flatten(1)                                  # (B, 512)
        return self.fc(x)

    def _mix_adversarial(self, x):
        """Replace the first ``adv_fraction`` of the batch by PGD samples."""
        n_adv = int(round(self.adv_fraction * x.shape[0]))
        if n_adv == 0:
            return x
        adv = self.attacker.perturb(self, x[:n_adv])
        return torch.cat([adv, x[n_adv:]], dim=0)


def _conv_bn(conv_op, cin, cout, stride=1, kernel=3):
    return nn.Sequential(conv_op(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a (projected when the shape changes) shortcut."""

    def __init__(self, cin, cout, stride=1, conv_op=nn.Conv2d):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(conv_op, cin, cout, stride), nn.ReLU(inplace=True),
                                  _conv_bn(conv_op, cout, cout))
        nn.init.zeros_(self.body[-1][1].weight)  # the block starts as the identity
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout
                         else _conv_bn(conv_op, cin, cout, stride, kernel=1))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class PlacesResNet(nn.Module):
    """Our CNN: stem (stride 4) -> 4 stages of BasicBlocks (strides 1, 2, 2, 2) -> pool -> dropout -> linear.

    SimpleNet has no normalisation, one bottleneck per scale and 365k parameters, so it
    under-fits 100 scene classes.  This keeps its cheap stride-4 stem but with two 3x3
    convolutions, then BasicBlocks (He et al. 2016, https://arxiv.org/abs/1512.03385)
    with BatchNorm and a zero-initialised last BN per block (each block starts as the
    identity, so SGD at lr 0.1 is stable), and dropout before the classifier.  At width
    64 it is ResNet-18-sized (11.2M parameters, ~0.63 G multiply-adds at 128x128);
    ``width`` scales it down.  Takes ``conv_op``/``num_classes`` like SimpleNet, so it can
    be the course's ``default_cnn_model`` (with ``--use-custom-conv`` too).
    """

    def __init__(self, conv_op=nn.Conv2d, num_classes=100, width=64, blocks=(2, 2, 2, 2), dropout=0.2):
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stem = nn.Sequential(_conv_bn(conv_op, 3, width // 2, stride=2), nn.ReLU(inplace=True),
                                  _conv_bn(conv_op, width // 2, width), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, stride=2, padding=1))          # (B, w, H/4, W/4)
        stages, cin = [], width
        for i, (cout, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            stages += [BasicBlock(cin, cout, stride, conv_op)] + [BasicBlock(cout, cout, 1, conv_op)
                                                                  for _ in range(n - 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)                                     # (B, 8w, H/32, W/32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, CustomConv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x))).flatten(1)                     # (B, 8w)
        return self.fc(self.dropout(x))


# The CNN the course's main.py builds; set it to PlacesResNet to train our CNN there.
default_cnn_model = SimpleNet


#################################################################################
# Part II: self-attention and a vision Transformer
# (the blocks carry the course's custom_blocks names and signatures)
#################################################################################
class PatchEmbed(nn.Module):
    """Image -> patch tokens with one strided convolution: ``(B, C, H, W)`` -> ``(B, H', W', D)``."""

    def __init__(self, kernel_size=(16, 16), stride=(16, 16), padding=(0, 0), in_chans=3, embed_dim=768):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x):
        return self.proj(x).permute(0, 2, 3, 1)                                   # (B, D, h, w) -> (B, h, w, D)


def window_partition(x, window_size):
    """``(B, H, W, C)`` -> windows ``(B * nW, ws, ws, C)`` and the padded size ``(Hp, Wp)``.

    ViTDet (Li et al. 2022, https://arxiv.org/abs/2203.16527): zero-pad to a multiple of
    the window size, then cut into non-overlapping windows.
    """
    batch, height, width, channels = x.shape
    pad_h = (window_size - height % window_size) % window_size
    pad_w = (window_size - width % window_size) % window_size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))                                  # pads W then H; C untouched
    hp, wp = height + pad_h, width + pad_w
    x = x.view(batch, hp // window_size, window_size, wp // window_size, window_size, channels)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, channels)
    return windows, (hp, wp)


def window_unpartition(windows, window_size, pad_hw, hw):
    """Inverse of :func:`window_partition`: windows -> ``(B, H, W, C)`` with the padding removed."""
    hp, wp = pad_hw
    height, width = hw
    batch = windows.shape[0] // ((hp // window_size) * (wp // window_size))
    x = windows.view(batch, hp // window_size, wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(batch, hp, wp, -1)                  # (B, Hp, Wp, C)
    return x[:, :height, :width, :].contiguous() if (hp, wp) != (height, width) else x


class MLP(nn.Module):
    """Two-layer feed-forward network (Linear -> activation -> dropout -> Linear -> dropout)."""

    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.0):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def drop_path(x, drop_prob=0.0, training=False):
    """Stochastic depth (Huang et al. 2016): zero a sample's residual branch with probability ``drop_prob``."""
    if not drop_prob or not training:
        return x
    keep = 1.0 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep  # rescaled so the expectation matches evaluation


class DropPath(nn.Module):
    """:func:`drop_path` as a module (active in training mode only)."""

    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self):
        return f"drop_prob={self.drop_prob}"


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill ``tensor`` in place from N(mean, std^2) truncated to [a, b] (``nn.init.trunc_normal_``)."""
    return nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)


class Attention(nn.Module):
    """Multi-head self-attention over all positions of a ``(B, H, W, C)`` map.

    ``softmax(q k^T / sqrt(d)) v`` per head via ``F.scaled_dot_product_attention`` (fused
    kernels on CPU and GPU); the tests check it against ``nn.MultiheadAttention``.
    """

    def __init__(self, dim, num_heads=8, qkv_bias=True):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} must be divisible by num_heads {num_heads}"
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, height, width, dim = x.shape
        qkv = self.qkv(x).reshape(batch, height * width, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)                           # each (B, nh, N, hd)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)          # (B, nh, N, hd)
        out = out.transpose(1, 2).reshape(batch, height, width, dim)             # (B, H, W, C)
        return self.proj(out)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + DropPath(Attn(LN(x)))``, then ``x + DropPath(MLP(LN(x)))``.

    ``window_size > 0`` restricts attention to non-overlapping windows (padded when the
    map is not a multiple of the window size); 0 means global attention.
    """

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop_path=0.0, norm_layer=nn.LayerNorm,
                 act_layer=nn.GELU, window_size=0):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer)
        self.window_size = window_size

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            hw = x.shape[1:3]
            x, pad_hw = window_partition(x, self.window_size)                     # (B*nW, ws, ws, C)
            x = window_unpartition(self.attn(x), self.window_size, pad_hw, hw)    # (B, H, W, C)
        else:
            x = self.attn(x)
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SimpleViT(nn.Module):
    """Vision Transformer for 128x128 MiniPlaces: patches -> blocks -> LayerNorm -> mean pool -> linear."""

    def __init__(self, img_size=128, num_classes=100, patch_size=16, in_chans=3, embed_dim=192, depth=4,
                 num_heads=4, mlp_ratio=4.0, qkv_bias=True, drop_path_rate=0.1, norm_layer=nn.LayerNorm,
                 act_layer=nn.GELU, use_abs_pos=True, window_size=4, window_block_indexes=(0, 2)):
        super().__init__()
        assert img_size % patch_size == 0, f"img_size {img_size} must be a multiple of patch_size {patch_size}"
        grid = img_size // patch_size
        # Learned absolute position embedding, one vector per patch position.
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim)) if use_abs_pos else None
        rates = torch.linspace(0, drop_path_rate, depth).tolist()               # stochastic depth grows with depth
        self.patch_embed = PatchEmbed(kernel_size=(patch_size, patch_size), stride=(patch_size, patch_size),
                                      in_chans=in_chans, embed_dim=embed_dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, rates[i], norm_layer, act_layer,
                             window_size if i in window_block_indexes else 0)
            for i in range(depth))
        self.norm = norm_layer(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        if self.pos_embed is not None:
            trunc_normal_(self.pos_embed, std=0.02)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)                                                  # (B, h, w, D)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        x = self.norm(x).mean(dim=(1, 2))                                        # (B, D)
        return self.head(x)


default_vit_model = SimpleViT


#################################################################################
# Data augmentation on OpenCV images ((H, W, 3) uint8 RGB arrays)
# (the classes carry the course's custom_transforms names and signatures)
#################################################################################
INTERPOLATIONS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC)  # drawn at random per image


def resize_image(img, new_size, interpolation):
    """``cv2.resize`` to ``new_size = (w, h)``; nearest uses the exact variant (OpenCV's plain one is
    off by half a pixel)."""
    if interpolation == cv2.INTER_NEAREST:
        interpolation = cv2.INTER_NEAREST_EXACT
    return cv2.resize(img, tuple(new_size), interpolation=interpolation)


def _interpolations(choices):
    """None means bilinear only (deterministic); otherwise a non-empty list to draw from."""
    choices = [cv2.INTER_LINEAR] if choices is None else list(choices)
    assert choices, "interpolations must name at least one OpenCV interpolation"
    return choices


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        return "".join(f"{t!r}\n" for t in self.transforms)


class RandomHorizontalFlip:
    """Mirror left-right with probability 0.5."""

    def __call__(self, img):
        return cv2.flip(img, 1) if random.random() < 0.5 else img

    def __repr__(self):
        return "Random Horizontal Flip"


class Scale:
    """Resize so the shorter side is ``size`` (aspect kept), or to exactly ``size = (w, h)``.

    The interpolation is drawn per image from ``interpolations`` (None: bilinear only).
    """

    def __init__(self, size, interpolations=INTERPOLATIONS):
        assert isinstance(size, int) or (isinstance(size, Iterable) and len(size) == 2)
        self.size = size
        self.interpolations = _interpolations(interpolations)

    def __call__(self, img):
        interpolation = random.choice(self.interpolations)
        if not isinstance(self.size, int):
            return resize_image(img, self.size, interpolation)
        h, w = img.shape[:2]
        if min(h, w) == self.size:
            return img
        if w < h:
            new = (self.size, int(round(self.size * h / w)))
        else:
            new = (int(round(self.size * w / h)), self.size)
        return resize_image(img, new, interpolation)

    def __repr__(self):
        if isinstance(self.size, int):
            return f"Scale [Shortest side {self.size}]"
        return f"Scale [Exact Size ({self.size[0]}, {self.size[1]})]"


def _center_crop(img, th, tw):
    h, w = img.shape[:2]
    x1, y1 = int(round((w - tw) / 2.0)), int(round((h - th) / 2.0))
    return img[y1:y1 + th, x1:x1 + tw]


class CenterCrop:
    """Crop the central ``size x size`` (or ``size = (h, w)``) patch."""

    def __init__(self, size):
        self.size = size

    def __call__(self, img):
        th, tw = (self.size, self.size) if isinstance(self.size, int) else self.size
        return _center_crop(img, th, tw)

    def __repr__(self):
        th, tw = (self.size, self.size) if isinstance(self.size, int) else self.size
        return f"Center Crop [Size ({th}, {tw})]"


class RandomSizedCrop:
    """Crop a random area (``area_range`` of the image) and aspect ratio (``ratio_range``, either
    orientation), resized to ``size``; after ``num_trials`` misses, scale and centre-crop instead."""

    def __init__(self, size, interpolations=INTERPOLATIONS, area_range=(0.25, 1.0), ratio_range=(0.8, 1.2),
                 num_trials=10):
        self.size = size
        self.interpolations = _interpolations(interpolations)
        self.area_range, self.ratio_range, self.num_trials = area_range, ratio_range, int(num_trials)

    def __call__(self, img):
        interpolation = random.choice(self.interpolations)
        out_size = (self.size, self.size) if isinstance(self.size, int) else self.size
        h, w = img.shape[:2]
        for _ in range(self.num_trials):
            area = random.uniform(*self.area_range) * h * w
            ratio = random.uniform(*self.ratio_range)
            cw, ch = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
            if random.random() < 0.5:
                cw, ch = ch, cw
            if cw <= w and ch <= h:
                x1, y1 = random.randint(0, w - cw), random.randint(0, h - ch)
                return resize_image(img[y1:y1 + ch, x1:x1 + cw], out_size, interpolation)
        img = Scale(self.size, interpolations=self.interpolations)(img)
        return _center_crop(img, self.size, self.size) if isinstance(self.size, int) else img

    def __repr__(self):
        tw, th = (self.size, self.size) if isinstance(self.size, int) else self.size
        return (f"Random Crop[Size ({tw}, {th}); Area {self.area_range[0]:.2f} - {self.area_range[1]:.2f}; "
                f"Ratio {self.ratio_range[0]:.2f} - {self.ratio_range[1]:.2f}]")


class RandomColor:
    """Multiply each RGB channel by its own factor drawn from ``[1 - r, 1 + r]``."""

    def __init__(self, color_range):
        self.color_range = color_range

    def __call__(self, img):
        factors = [random.uniform(1 - self.color_range, 1 + self.color_range) for _ in range(3)]
        lut = np.clip(np.arange(256, dtype=np.float32)[:, None] * np.float32(factors), 0, 255).astype(np.uint8)
        return cv2.LUT(img, lut[None])                                           # (1, 256, 3) table per channel

    def __repr__(self):
        return f"Random Color [Range {1 - self.color_range:.2f} - {1 + self.color_range:.2f}]"


def _rotated_inner_size(w, h, degree):
    """Width and height of the largest axis-aligned rectangle inside a ``w x h`` image rotated by ``degree``."""
    sin_a, cos_a = abs(math.sin(math.radians(degree))), abs(math.cos(math.radians(degree)))
    long_side, short_side = max(w, h), min(w, h)
    if short_side <= 2.0 * sin_a * cos_a * long_side:
        # Two corners of the rectangle touch the long sides; the other two lie on the centre line.
        half = 0.5 * short_side
        return (half / sin_a, half / cos_a) if w >= h else (half / cos_a, half / sin_a)
    cos_2a = cos_a * cos_a - sin_a * sin_a                                      # all four corners touch
    return (w * cos_a - h * sin_a) / cos_2a, (h * cos_a - w * sin_a) / cos_2a


class RandomRotate:
    """Rotate by a uniform angle in ``[-degree_range, degree_range]`` about the centre and keep the
    largest axis-aligned rectangle without border pixels (rotations within +-1 degree are skipped)."""

    def __init__(self, degree_range, interpolations=INTERPOLATIONS):
        self.degree_range = degree_range
        self.interpolations = _interpolations(interpolations)

    def __call__(self, img):
        interpolation = random.choice(self.interpolations)
        degree = random.uniform(-self.degree_range, self.degree_range)
        if abs(degree) <= 1.0:
            return img
        h, w = img.shape[:2]
        wr, hr = _rotated_inner_size(w, h, degree)
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degree, 1.0)
        matrix[:, 2] += ((wr - w) / 2.0, (hr - h) / 2.0)                         # centre the kept rectangle
        return cv2.warpAffine(img, matrix, (int(round(wr)), int(round(hr))), flags=interpolation)

    def __repr__(self):
        return f"Random Rotation [Range {-self.degree_range:.2f} - {self.degree_range:.2f} Degree]"


class ToTensor:
    """``(H, W, C)`` uint8 array -> ``(C, H, W)`` float tensor in [0, 1] (other dtypes keep their values)."""

    def __call__(self, img):
        assert isinstance(img, np.ndarray), f"ToTensor expects a numpy image, got {type(img).__name__}"
        if img.ndim == 2:
            img = img[:, :, None]
        tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return tensor.float().div_(255) if tensor.dtype == torch.uint8 else tensor

    def __repr__(self):
        return "To Tensor()"


class Normalize:
    """``(x * scale - mean) / std`` per channel, in place."""

    def __init__(self, mean, std, scale=1.0):
        self.mean, self.std, self.scale = mean, std, scale

    def __call__(self, tensor_img):
        mean = torch.as_tensor(self.mean, dtype=tensor_img.dtype, device=tensor_img.device)[:, None, None]
        std = torch.as_tensor(self.std, dtype=tensor_img.dtype, device=tensor_img.device)[:, None, None]
        return tensor_img.mul_(self.scale).sub_(mean).div_(std)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Denormalize:
    """Inverse of :class:`Normalize`: ``(x * std + mean) / scale`` per channel, in place."""

    def __init__(self, mean, std, scale=1.0):
        self.mean, self.std, self.scale = mean, std, scale

    def __call__(self, tensor_img):
        mean = torch.as_tensor(self.mean, dtype=tensor_img.dtype, device=tensor_img.device)[:, None, None]
        std = torch.as_tensor(self.std, dtype=tensor_img.dtype, device=tensor_img.device)[:, None, None]
        return tensor_img.mul_(std).add_(mean).div_(self.scale)

    def __repr__(self):
        return f"De-normalize(mean={self.mean}, std={self.std})"


def get_train_transforms():
    """Training augmentation (the course's): scale 144, flip, colour 0.15, rotate 15, random crop 128."""
    return Compose([Scale(144), RandomHorizontalFlip(), RandomColor(0.15), RandomRotate(15), RandomSizedCrop(128),
                    ToTensor(), Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)])


def get_val_transforms():
    """Validation: scale 144, centre crop 128.  Bilinear only (``interpolations=None``, as the course's
    Scale docstring advises for testing), so evaluation does not depend on a random draw."""
    return Compose([Scale(144, interpolations=None), CenterCrop(128), ToTensor(),
                    Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)])


#################################################################################
# Part III: adversarial samples
#################################################################################
def _normalized_pixel_box(x):
    """Per-channel ``(1, 3, 1, 1)`` bounds of pixel values [0, 1] after ImageNet normalisation.

    Inputs are normalised; clamping them to [0, 1] instead would destroy the images and
    fake a strong attack.
    """
    mean = torch.as_tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.as_tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (0 - mean) / std, (1 - mean) / std


class PGDAttack:
    """L-inf PGD toward the label the clean prediction is least confident about.

    Each step *decreases* ``loss_fn(model(x_adv), least_likely)``:
    ``x_adv <- clip(x_adv - step_size * sign(grad))``, clipped to the epsilon ball around
    the input and to the normalised pixel box (Madry et al. 2018,
    https://arxiv.org/abs/1706.06083).  ``epsilon``/``step_size`` are in normalised
    units (0.1 is about 6 pixel levels).  Gradients come from ``torch.autograd.grad``
    (the model's ``.grad`` is never touched, no graph outlives a step), the model runs in
    eval mode and every module's train/eval flag is restored afterwards.

    Example::

        attacker = PGDAttack(nn.CrossEntropyLoss(), num_steps=10, step_size=0.01, epsilon=0.1)
        adv = attacker.perturb(model, images)   # images (N, 3, H, W), normalised
    """

    def __init__(self, loss_fn, num_steps=10, step_size=0.01, epsilon=0.1):
        self.loss_fn = loss_fn
        self.num_steps = num_steps
        self.step_size = step_size
        self.epsilon = epsilon

    def perturb(self, model, input):
        """Adversarial version of ``input`` ``(N, C, H, W)``: same shape, detached, within epsilon."""
        x = input.detach()
        lower, upper = _normalized_pixel_box(x)
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            with torch.no_grad():
                target = model(x).argmin(dim=1)                                  # least-likely label
            adv = x.clone()
            for _ in range(self.num_steps):
                adv.requires_grad_(True)
                with torch.enable_grad():
                    (grad,) = torch.autograd.grad(self.loss_fn(model(adv), target), adv)
                adv = adv.detach() - self.step_size * grad.sign()                # descend toward the target
                adv = torch.min(torch.max(adv, x - self.epsilon), x + self.epsilon)
                adv = torch.min(torch.max(adv, lower), upper)
        finally:
            for module, training in modes:
                module.train(training)
        return adv.detach()

    def __repr__(self):
        return (f"PGDAttack(num_steps={self.num_steps}, step_size={self.step_size}, epsilon={self.epsilon}, "
                "target=least-likely)")


default_attack = PGDAttack


def vis_grid(input, n_rows=10):
    """Normalised images ``(N, 3, H, W)`` -> one ``(3, H', W')`` grid of pixels in [0, 1] (for TensorBoard)."""
    images = input.detach().float().cpu()
    mean = torch.tensor(IMAGENET_MEAN).view(1, -1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, -1, 1, 1)
    return make_grid((images * std + mean).clamp(0, 1), nrow=n_rows, padding=2)


default_visfunction = vis_grid
