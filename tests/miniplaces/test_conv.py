"""Custom unfold convolution vs F.conv2d (float64), gradcheck, the course check, SimpleNet."""
from __future__ import annotations

import ast
import inspect

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from miniplaces import student_code
from miniplaces.student_code import CustomConv2d, SimpleNet, custom_conv2d


def _random_config(gen: torch.Generator) -> dict:
    pick = lambda lo, hi: int(torch.randint(lo, hi + 1, (1,), generator=gen))  # noqa: E731
    k, p = pick(1, 7), pick(0, 3)
    # Input at least as large as the kernel after padding, non-square.
    return {"batch": pick(1, 3), "cin": pick(1, 5), "cout": pick(1, 6), "k": k, "stride": pick(1, 3), "pad": p,
            "h": max(k, pick(1, 11)) + pick(0, 3), "w": max(k, pick(1, 11)), "bias": bool(pick(0, 1))}


@pytest.mark.parametrize("seed", range(40))
def test_forward_and_gradients_match_conv2d(seed):
    gen = torch.Generator().manual_seed(seed)
    c = _random_config(gen)
    x = torch.randn(c["batch"], c["cin"], c["h"], c["w"], dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(c["cout"], c["cin"], c["k"], c["k"], dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(c["cout"], dtype=torch.float64, generator=gen, requires_grad=True) if c["bias"] else None
    ours = custom_conv2d(x, w, b, c["stride"], c["pad"])
    ref = F.conv2d(x, w, b, c["stride"], c["pad"])
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    grad = torch.randn(ref.shape, dtype=torch.float64, generator=gen)
    inputs = [x, w] + ([b] if b is not None else [])
    ours_g = torch.autograd.grad(ours, inputs, grad)
    ref_g = torch.autograd.grad(ref, inputs, grad)
    for name, got, want in zip(["input", "weight", "bias"], ours_g, ref_g):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10, msg=f"grad {name} differs ({c})")


@pytest.mark.parametrize("k,stride,pad,bias", [(3, 1, 1, True), (1, 2, 0, False), (4, 3, 2, True), (2, 2, 0, False)])
def test_gradcheck(k, stride, pad, bias):
    gen = torch.Generator().manual_seed(k * 10 + stride)
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(3, 2, k, k, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True) if bias else None
    # fast_mode checks a random projection of the Jacobians (the full check costs ~100x more);
    # the exact per-element comparison with F.conv2d is the test above.
    assert torch.autograd.gradcheck(lambda x, w, b: custom_conv2d(x, w, b, stride, pad), (x, w, b), fast_mode=True)


def test_course_configuration():
    """The handout's own check: batch 2, 3->64, kernel 7, stride 2, padding 3, 12x12, atol 1e-5."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    conv = nn.Conv2d(3, 64, 7, stride=2, padding=3)
    ours = custom_conv2d(x, conv.weight, conv.bias, 2, 3)
    ref = conv(x)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(ref)
    got = torch.autograd.grad(ours, [x, conv.weight, conv.bias], grad)
    want = torch.autograd.grad(ref, [x, conv.weight, conv.bias], grad)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)


def test_no_convolution_function_in_source():
    """Only unfold/fold + matmul: no conv2d, conv_transpose2d, torch.convolution or nn.Conv* calls.

    The one exception is the ViT's PatchEmbed (the course's own block projects patches with nn.Conv2d).
    """
    forbidden = {"conv2d", "conv_transpose2d", "convolution", "_convolution", "conv1d", "conv3d", "Conv2d"}
    found = {}
    for top in ast.parse(inspect.getsource(student_code)).body:
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in forbidden:
                    found.setdefault(getattr(top, "name", "module level"), set()).add(name)
    assert found == {"PatchEmbed": {"Conv2d"}}, f"convolution called in student_code.py: {found}"
    fn_source = inspect.getsource(student_code.CustomConv2DFunction)
    assert "conv2d(" not in fn_source.replace("custom_conv2d(", "")


def test_custom_conv2d_module_matches_nn_conv2d_and_init():
    torch.manual_seed(1)
    ours = CustomConv2d(5, 7, 3, stride=2, padding=1, bias=False)
    ref = nn.Conv2d(5, 7, 3, stride=2, padding=1, bias=False)
    assert ours.bias is None and ours.weight.shape == ref.weight.shape
    ref.weight.data.copy_(ours.weight.data)
    x = torch.randn(3, 5, 9, 10)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    # nn.Conv2d initialisation: kaiming-uniform(a=sqrt(5)) bound = 1/sqrt(fan_in)
    big = CustomConv2d(64, 64, 3)
    bound = 1 / (64 * 9) ** 0.5
    assert big.weight.abs().max() <= bound and big.weight.abs().max() > 0.9 * bound


def test_output_is_not_a_view_and_inplace_relu_trains():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6)
    out = custom_conv2d(x, torch.randn(4, 3, 3, 3, requires_grad=True), None, 1, 1)
    assert out._base is None
    model = SimpleNet(conv_op=CustomConv2d, num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = model.features[0].weight.detach().clone()
    loss = F.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and not torch.equal(before, model.features[0].weight)


def test_simplenet_parameter_count_and_custom_equivalence():
    assert sum(p.numel() for p in SimpleNet().parameters()) == 365_028
    assert sum(p.numel() for p in SimpleNet(conv_op=CustomConv2d).parameters()) == 365_028
    torch.manual_seed(0)
    ref, ours = SimpleNet(), SimpleNet(conv_op=CustomConv2d)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 64, 48)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)


def test_autocast_keeps_gradient_dtypes():
    """Under (CPU bf16) autocast the conv runs in bf16 but parameter gradients stay fp32."""
    conv = CustomConv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert conv.weight.grad.dtype == torch.float32 and x.grad.dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_forward_backward_and_bf16_autocast():
    torch.manual_seed(0)
    x = torch.randn(4, 16, 20, 18, device="cuda", requires_grad=True)
    conv = nn.Conv2d(16, 32, 3, stride=2, padding=1).cuda()
    ours = custom_conv2d(x, conv.weight, conv.bias, 2, 1)
    torch.testing.assert_close(ours, conv(x), atol=1e-3, rtol=1e-3)  # TF32 matmuls on Ampere+
    with torch.autocast("cuda", dtype=torch.bfloat16):
        low = custom_conv2d(x, conv.weight, conv.bias, 2, 1)
    assert low.dtype == torch.bfloat16
    low.float().sum().backward()
    assert conv.weight.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()
