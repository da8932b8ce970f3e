"""Autograd semantics: accumulation, retain_graph, no_grad, detach, leaves, hooks, gradcheck."""

import numpy as np
import pytest

import lamina
from lamina.autograd import Function, GradcheckError, gradcheck


def test_grad_accumulates_across_backward_calls():
    x = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_grad_is_not_aliased_between_leaves():
    a = lamina.ones(3, requires_grad=True)
    b = lamina.ones(3, requires_grad=True)
    (a + b).sum().backward()
    (a * 2).sum().backward()  # accumulates into a.grad only
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0, 1.0])


def test_first_gradient_is_adopted_only_when_nothing_else_sees_it():
    # A gradient that only the engine holds becomes .grad without a copy; one that another leaf,
    # a ctx or a hook can still see is copied, so no later in-place accumulation leaks into it.
    from lamina.autograd import function as fn

    seen = []
    real = fn._can_adopt

    def spy(grad, var, refs):
        seen.append(real(grad, var, refs))
        return seen[-1]

    class Twice(Function):  # hands the same tensor to both inputs
        @staticmethod
        def forward(ctx, x, y):
            return lamina._C.binary(0, x, y)

        @staticmethod
        def backward(ctx, g):
            return g, g

    kept = []

    class Keeps(Function):  # keeps the gradient it returns
        @staticmethod
        def forward(ctx, x):
            return lamina._C.clone(x)

        @staticmethod
        def backward(ctx, g):
            out = lamina._C.clone(g)
            kept.append(out)
            return out

    fn._can_adopt = spy
    try:
        w = lamina.randn(4, 3, requires_grad=True)
        x = lamina.randn(5, 3)
        lamina.nn.functional.linear(x, w).sum().backward()
        assert seen == [True]
        seen.clear()
        a, b = lamina.randn(3, requires_grad=True), lamina.randn(3, requires_grad=True)
        Twice.apply(a, b).sum().backward()
        assert sorted(seen) == [False, True]
        assert not a.grad._t.shares_storage(b.grad._t)
        seen.clear()
        c = lamina.randn(3, requires_grad=True)
        Keeps.apply(c).sum().backward()
        assert seen == [False]
        assert not c.grad._t.shares_storage(kept[0])
    finally:
        fn._can_adopt = real
    before = np.array(kept[0], copy=True)
    Keeps.apply(c).sum().backward()  # accumulates into c.grad in place
    np.testing.assert_array_equal(np.array(kept[0]), before)
    np.testing.assert_allclose(c.grad.numpy(), 2 * before)
    w_grad = w.grad.numpy().copy()
    lamina.nn.functional.linear(x, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w_grad, rtol=1e-6)


def test_expanded_gradient_is_copied_dense():
    # sum's backward hands out an expanded (stride 0) view; .grad must be a dense tensor that
    # accumulates element by element.
    x = lamina.randn(2, 3, requires_grad=True)
    x.sum().backward()
    assert x.grad._t.is_contiguous and x.grad._t.strides == (3, 1)
    (x * lamina.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]])


def test_hooked_gradient_is_not_aliased_by_grad():
    x = lamina.randn(3, requires_grad=True)
    stash = []
    x.register_hook(lambda g: stash.append(g))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_allclose(stash[0].numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0, 4.0])


def test_second_backward_needs_retain_graph():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    g1 = (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1, rtol=1e-6)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_and_set_grad_enabled():
    x = lamina.ones(2, requires_grad=True)
    with lamina.no_grad():
        y = x * 2
        with lamina.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    assert lamina.is_grad_enabled()

    @lamina.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    with lamina.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad


def test_detach_shares_storage_and_cuts_graph():
    x = lamina.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert d.data_ptr() == y.data_ptr()
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_leaf_and_requires_grad_rules():
    x = lamina.ones(2)
    assert x.is_leaf and not x.requires_grad
    x.requires_grad_()
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        lamina.zeros(2, dtype=lamina.int64, requires_grad=True)


def test_backward_errors():
    x = lamina.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs.*\[2, 3\]"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        lamina.ones(2).sum().backward()
    with pytest.raises(ValueError, match=r"gradient has shape \[3\]"):
        (x * 2).backward(lamina.ones(3))
    (x * 2).backward(lamina.ones(2, 3))
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_inplace_on_graph_tensors_is_refused():
    x = lamina.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x.add_(1)
    y = x * 2
    with pytest.raises(RuntimeError, match="in-place"):
        y.mul_(2)
    with lamina.no_grad():
        x.add_(1)  # allowed: an optimizer step
    np.testing.assert_allclose(x.numpy(force=True), [2.0, 2.0, 2.0])


def test_saved_tensor_modified_in_place_is_detected():
    x = lamina.ones(3, requires_grad=True)
    w = lamina.tensor([1.0, 2.0, 3.0])
    y = (x * w).sum()
    w.add_(1)  # w was saved for backward
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_diamond_graph_and_reuse():
    x = lamina.tensor([0.5, -1.5], requires_grad=True)
    a = x * x
    b = a.exp() + a.sin() * x
    b.sum().backward()
    xv = np.array([0.5, -1.5])
    expected = np.exp(xv * xv) * 2 * xv + np.cos(xv * xv) * 2 * xv * xv + np.sin(xv * xv)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_hooks_and_retain_grad():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)  # leaf hook may replace the gradient
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 12.0])
    assert seen == [[6.0, 12.0]]
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])


def test_autograd_grad_returns_without_accumulating():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lamina.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert x.grad is None


def test_multi_output_function_and_nondifferentiable_output():
    x = lamina.tensor([[1.0, 5.0], [7.0, 2.0]], requires_grad=True)
    values, indices = x.max(1)
    assert not indices.requires_grad
    values.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1], [1, 0]])


def test_custom_function():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return lamina._C.binary(2, lamina._C.binary(2, x, x), x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            three = lamina._C.full([], 3.0, x.dtype, x.device)
            return lamina._C.binary(2, g, lamina._C.binary(2, three, lamina._C.binary(2, x, x)))

    x = lamina.randn(4, dtype=lamina.float64, requires_grad=True)
    assert gradcheck(Cube.apply, (x,))


def test_gradcheck_catches_a_wrong_gradient():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return lamina._C.binary(2, x, x)

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 x g

    x = lamina.randn(3, dtype=lamina.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_gradcheck_requires_float64():
    x = lamina.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, (x,))


def test_deep_chain_does_not_recurse():
    x = lamina.ones(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_backward_tells_the_function_whether_its_saved_tensors_are_freed():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return lamina._C.binary(2, x, x)

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.frees_saved)
            (x,) = ctx.saved_tensors
            return lamina._C.binary(2, g, x)

    x = lamina.tensor([2.0, 3.0], requires_grad=True)
    y = Probe.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert seen == [False, True]
    assert x.grad.tolist() == [4.0, 6.0]


def test_a_failing_backward_frees_the_graph_it_may_have_written_over():
    class Fails(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return lamina._C.clone(x)

        @staticmethod
        def backward(ctx, g):
            assert ctx.saved_tensors  # the access that a second backward must refuse
            raise ValueError("boom")

    x = lamina.tensor([1.0], requires_grad=True)
    y = Fails.apply(x)
    with pytest.raises(ValueError, match="boom"):
        y.backward(lamina.tensor([1.0]))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(lamina.tensor([1.0]))


@pytest.mark.parametrize("materialize", [True, False])
def test_set_materialize_grads(materialize):
    got = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            return lamina._C.clone(x), lamina._C.clone(x)

        @staticmethod
        def backward(ctx, g0, g1):
            got.append(g1)
            return g0

    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    a, _ = Two.apply(x)
    a.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    if materialize:
        assert lamina.Tensor._wrap(got[0]).tolist() == [0.0, 0.0]
    else:
        assert got == [None]
