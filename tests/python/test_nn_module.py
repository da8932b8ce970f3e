"""nn.Module, nn.Parameter and the containers: registration, names, state_dict keys, loading,
modes, dtype moves, hooks and repr, each compared with torch.nn where torch has the same thing."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)


def make_net(nn_, lib):
    """The same model in torch.nn or lamina.nn: nested containers, a buffer-carrying layer like
    batch norm (with a non-persistent buffer), a bias-free layer and a shared submodule."""

    class Affine(nn_.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn_.Parameter(lib.ones(n))
            self.bias = nn_.Parameter(lib.zeros(n))
            self.register_buffer("running_mean", lib.zeros(n))
            self.register_buffer("running_var", lib.ones(n))
            self.register_buffer("num_batches_tracked", lib.tensor(0))
            self.register_buffer("scratch", lib.zeros(n), persistent=False)

        def forward(self, x):
            return (x - self.running_mean) * self.weight + self.bias

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn_.Parameter(lib.ones(1) * 0.5)
            self.features = nn_.Sequential(nn_.Linear(6, 8), nn_.Identity(), nn_.Flatten(), Affine(8),
                                           nn_.Linear(8, 5))
            self.blocks = nn_.ModuleList([nn_.Linear(5, 5), nn_.Linear(5, 5)])
            self.heads = nn_.ModuleDict({"a": nn_.Linear(5, 2), "b": nn_.Linear(5, 3, bias=False)})
            self.register_buffer("step", lib.zeros(1))
            self.tied = self.features[0]  # shared: listed once

        def forward(self, x):
            h = self.features(x) * self.scale
            for b in self.blocks:
                h = b(h)
            return lib.cat([self.heads["a"](h), self.heads["b"](h)], 1)

    return Net()


def to_torch_state(sd):
    return OrderedDict((k, torch.from_numpy(np.array(v.numpy()))) for k, v in sd.items())


# ---------------------------------------------------------------- Parameter

def test_parameter_basics():
    p = nn.Parameter(lamina.randn(3, 2))
    assert isinstance(p, lamina.Tensor) and p.requires_grad and p.is_leaf
    q = p * 2 + 1
    assert type(q) is lamina.Tensor and q.grad_fn is not None
    assert type(p.detach()) is lamina.Tensor and type(p.data) is lamina.Tensor
    assert repr(p).startswith("Parameter containing:\ntensor([[") and repr(p).endswith("requires_grad=True)")
    assert not nn.Parameter(lamina.zeros(2), requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    data = lamina.zeros(3)
    p = nn.Parameter(data)
    with lamina.no_grad():
        p.add_(1)
    assert data.tolist() == [1.0, 1.0, 1.0]  # shares memory with data, as torch
    (p * p).sum().backward()
    assert p.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(lamina.zeros(2, dtype=lamina.int64))
    with pytest.raises(TypeError, match="Parameter.*data"):
        nn.Parameter(np.zeros(3))


# ---------------------------------------------------------------- registration

def test_registration_and_attribute_errors():
    m = nn.Module()
    m.w = nn.Parameter(lamina.ones(2))
    m.register_buffer("buf", lamina.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.plain = 3
    assert list(m._parameters) == ["w"] and list(m._buffers) == ["buf"] and list(m._modules) == ["sub"]
    assert m.w is m._parameters["w"] and m.buf is m._buffers["buf"] and m.sub is m._modules["sub"]
    assert "plain" in m.__dict__ and {"w", "buf", "sub", "plain", "forward"} <= set(dir(m))
    with pytest.raises(TypeError, match="cannot assign 'lamina.Tensor' as parameter 'w'"):
        m.w = lamina.ones(2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'buf'"):
        m.buf = 3
    m.buf = lamina.ones(3)  # a tensor may replace a buffer
    assert m.buf.tolist() == [1.0, 1.0, 1.0]
    m.w = None  # a declared but absent parameter
    assert m.w is None and list(m.named_parameters()) == [("sub.weight", m.sub.weight), ("sub.bias", m.sub.bias)]
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", lamina.zeros(1))
    with pytest.raises(TypeError, match="buffer 'x'"):
        m.register_buffer("x", np.zeros(2))
    with pytest.raises(TypeError, match="parameter 'y'"):
        m.register_parameter("y", lamina.zeros(2))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("z", _nonleaf_param())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("q", 5)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        _ = m.nope
    # re-assigning a name moves it between kinds
    m.sub = nn.Parameter(lamina.zeros(1))
    assert "sub" in m._parameters and "sub" not in m._modules
    del m.sub, m.buf, m.plain
    assert "sub" not in m._parameters and "buf" not in m._buffers and not hasattr(m, "plain")

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(lamina.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def _nonleaf_param():
    p = nn.Parameter(lamina.ones(2))
    p.grad_fn = (p * 2).grad_fn  # a parameter that is not a leaf
    return p


@needs_torch
def test_names_and_state_dict_keys_match_torch():
    lm, tm = make_net(nn, lamina), make_net(torch.nn, torch)
    lnames = [(n, tuple(p.shape)) for n, p in lm.named_parameters()]
    tnames = [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert lnames == tnames
    assert lnames[:3] == [("scale", (1,)), ("features.0.weight", (8, 6)), ("features.0.bias", (8,))]
    assert [n for n, _ in lm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in lm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in lm.named_children()] == [n for n, _ in tm.named_children()]
    assert list(lm.state_dict()) == list(tm.state_dict())
    assert "features.3.running_mean" in lm.state_dict() and "features.3.num_batches_tracked" in lm.state_dict()
    assert "features.3.scratch" not in lm.state_dict()
    assert list(lm.state_dict(prefix="model.")) == list(tm.state_dict(prefix="model."))
    # duplicates: shared modules and parameters are listed once unless asked
    assert len(list(lm.parameters())) == len(list(tm.parameters())) == 14
    assert ([n for n, _ in lm.named_parameters(remove_duplicate=False)]
            == [n for n, _ in tm.named_parameters(remove_duplicate=False)])
    assert ([n for n, _ in lm.named_parameters(prefix="p", recurse=False)]
            == [n for n, _ in tm.named_parameters(prefix="p", recurse=False)])
    assert lm.num_parameters() == sum(p.numel() for p in tm.parameters())
    assert repr(lm) == repr(tm)


@needs_torch
def test_sequential_state_dict_and_repr_match_torch():
    if not hasattr(nn, "ReLU"):
        pytest.fail("lamina.nn.ReLU is missing")
    lm = nn.Sequential(nn.Linear(4, 7), nn.ReLU(), nn.Linear(7, 3))
    tm = torch.nn.Sequential(torch.nn.Linear(4, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    assert list(lm.state_dict()) == list(tm.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert repr(lm) == repr(tm)
    tm.load_state_dict(to_torch_state(lm.state_dict()))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(lm(lamina.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_state_dict_values():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert sd._metadata[""] == {"version": 1}
    assert type(sd["weight"]) is lamina.Tensor and not sd["weight"].requires_grad
    sd["weight"].fill_(0.5)  # shares memory, as torch
    assert np.all(m.weight.detach().numpy() == 0.5)
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


# ---------------------------------------------------------------- load_state_dict

@needs_torch
def test_load_state_dict_round_trip_with_torch():
    lm, tm = make_net(nn, lamina), make_net(torch.nn, torch)
    with torch.no_grad():
        for p in tm.parameters():
            p.normal_()
        tm.features[3].running_mean.normal_()
        tm.features[3].num_batches_tracked.fill_(7)
    assert repr(lm.load_state_dict(tm.state_dict())) == "<All keys matched successfully>"
    assert lm.features[3].num_batches_tracked.item() == 7
    assert lm.features[3].num_batches_tracked.dtype is lamina.int64
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(lm(lamina.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    # and back into a fresh torch model
    tm2 = make_net(torch.nn, torch)
    tm2.load_state_dict(to_torch_state(lm.state_dict()))
    np.testing.assert_allclose(tm2(torch.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)
    # numpy values (float64 cast into float32 parameters) load too
    sd = {k: v.numpy().astype(np.float64) if v.dtype.is_floating_point else v.numpy()
          for k, v in tm.state_dict().items()}
    lm2 = make_net(nn, lamina)
    lm2.load_state_dict(sd)
    assert lm2.features[0].weight.dtype is lamina.float32
    np.testing.assert_allclose(lm2.features[0].weight.detach().numpy(), tm.features[0].weight.detach().numpy())


@needs_torch
def test_load_state_dict_errors_match_torch():
    lm, tm = make_net(nn, lamina), make_net(torch.nn, torch)
    good = tm.state_dict()

    def both(sd, strict=True):
        try:
            tres, terr = tm.load_state_dict(sd, strict=strict), None
        except RuntimeError as e:
            tres, terr = None, str(e)
        try:
            lres, lerr = lm.load_state_dict(sd, strict=strict), None
        except RuntimeError as e:
            lres, lerr = None, str(e)
        return tres, terr, lres, lerr

    bad = OrderedDict(good)
    del bad["features.0.bias"], bad["heads.b.weight"]
    bad["features.9.weight"] = torch.zeros(1)
    bad["extra"] = torch.zeros(1)
    tres, terr, lres, lerr = both(bad)
    assert terr is not None and lerr == terr
    assert lerr.startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "
                           "\"features.0.bias\", \"heads.b.weight\". \n\tUnexpected key(s)")
    tres, terr, lres, lerr = both(bad, strict=False)
    assert terr is None and lerr is None
    assert lres == tres and lres.missing_keys == ["features.0.bias", "heads.b.weight"]
    assert lres.unexpected_keys == ["extra", "features.9.weight"]
    assert type(lres).__name__ == "_IncompatibleKeys" and lres._fields == ("missing_keys", "unexpected_keys")
    # size mismatches raise even when not strict, naming the key and both shapes
    bad = OrderedDict(good)
    bad["features.0.weight"] = torch.zeros(8, 7)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for features\.0\.weight: copying a param with "
                                               r"shape lamina\.Size\(\[8, 7\]\) from checkpoint, the shape in "
                                               r"current model is lamina\.Size\(\[8, 6\]\)"):
            lm.load_state_dict(bad, strict=strict)
    bad["features.0.weight"] = "oops"
    with pytest.raises(RuntimeError, match="features.0.weight.*received <class 'str'>"):
        lm.load_state_dict(bad)
    with pytest.raises(TypeError, match="dict-like"):
        lm.load_state_dict([1, 2])
    # strict=False: missing and unexpected keys reported, present ones loaded
    part = {"features.0.bias": np.full(8, 3.0, np.float32), "nope.weight": np.zeros(1)}
    res = lm.load_state_dict(part, strict=False)
    assert "features.0.weight" in res.missing_keys and res.unexpected_keys == ["nope.weight"]
    assert np.all(lm.features[0].bias.detach().numpy() == 3.0)
    tres = tm.load_state_dict({"features.0.bias": torch.full((8,), 3.0), "nope.weight": torch.zeros(1)},
                              strict=False)
    assert res.missing_keys == tres.missing_keys and res.unexpected_keys == tres.unexpected_keys


def test_load_state_dict_assign_and_post_hook():
    m = nn.Linear(3, 2)
    w = m.weight
    new = {"weight": lamina.ones(2, 3), "bias": lamina.zeros(2)}
    m.load_state_dict(new)
    assert m.weight is w and np.all(w.detach().numpy() == 1)  # copied in place
    m.load_state_dict(new, assign=True)
    assert m.weight is not w and isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    seen = []
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append(list(keys.missing_keys)))
    m.load_state_dict({"weight": lamina.ones(2, 3)}, strict=False)
    assert seen == [["bias"]]


# ---------------------------------------------------------------- modes, grads, moves

@needs_torch
def test_train_eval_propagation_and_apply_order():
    lm, tm = make_net(nn, lamina), make_net(torch.nn, torch)
    assert lm.eval() is lm and all(not m.training for m in lm.modules())
    lm.features.train()
    assert not lm.training and lm.features[3].training and not lm.blocks[0].training
    assert lm.train() is lm and all(m.training for m in lm.modules())
    with pytest.raises(ValueError, match="boolean"):
        lm.train("no")
    lorder, torder = [], []
    lm.apply(lambda m: lorder.append(type(m).__name__))
    tm.apply(lambda m: torder.append(type(m).__name__))
    assert lorder == torder and lorder[-1] == "Net"


def test_to_double_float_keeps_parameter_identity():
    m = make_net(nn, lamina)
    params = list(m.parameters())
    (m(lamina.randn(2, 6)).sum()).backward()
    assert m.to(lamina.float64) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]  # optimizers keep working
    assert all(p.dtype is lamina.float64 and isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert all(p.grad.dtype is lamina.float64 for p in params)
    assert m.features[3].running_var.dtype is lamina.float64
    assert m.features[3].num_batches_tracked.dtype is lamina.int64  # integer buffers untouched
    y = m(lamina.randn(2, 6, dtype=lamina.float64))
    assert y.dtype is lamina.float64
    m.float()
    assert all(p.dtype is lamina.float32 for p in m.parameters()) and m.step.dtype is lamina.float32
    m.double()
    assert m.scale.dtype is lamina.float64
    m.to(lamina.zeros(1))  # to(tensor): its dtype and device
    assert m.scale.dtype is lamina.float32
    assert m.to("cpu") is m and m.cpu() is m and m.to(device="cpu", dtype="float64").scale.dtype is lamina.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(lamina.int64)


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(lamina.randn(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert np.all(m.weight.grad.numpy() == 0) and np.all(m.bias.grad.numpy() == 0)
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    assert m.requires_grad_(False) is m and not any(p.requires_grad for p in m.parameters())
    x = lamina.randn(4, 3, requires_grad=True)
    m(x).sum().backward()
    assert m.weight.grad is None and x.grad is not None


def test_deepcopy():
    m = make_net(nn, lamina)
    c = copy.deepcopy(m)
    assert list(c.state_dict()) == list(m.state_dict())
    assert c.features[0] is c.tied and c.features[0] is not m.features[0]
    assert all(a is not b for a, b in zip(c.parameters(), m.parameters()))
    with lamina.no_grad():
        c.scale.fill_(9.0)
    assert m.scale.item() == 0.5
    x = lamina.randn(2, 6)
    np.testing.assert_allclose(copy.deepcopy(m)(x).detach().numpy(), m(x).detach().numpy())


# ---------------------------------------------------------------- hooks

def test_forward_hooks():
    m = nn.Linear(3, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(tuple(out.shape)))
    y = m(lamina.randn(4, 3))
    np.testing.assert_allclose(y.detach().numpy(), np.tile(m.bias.detach().numpy(), (4, 1)))
    assert calls == [(4, 2)]
    h1.remove()
    h3 = m.register_forward_hook(lambda mod, args, out: out + 1, prepend=False)
    x = lamina.randn(4, 3)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), (x.numpy() @ m.weight.detach().numpy().T
                                                     + m.bias.detach().numpy() + 1), rtol=1e-5, atol=1e-5)
    h2.remove()
    h3.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks
    seen = {}

    def kw_pre(mod, args, kwargs):
        seen["kw"] = dict(kwargs)
        return args, kwargs

    m.register_forward_pre_hook(kw_pre, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.setdefault("post", len(kwargs)),
                            with_kwargs=True)
    m(input=lamina.randn(1, 3))
    assert seen == {"kw": {"input": seen["kw"]["input"]}, "post": 1}


@needs_torch
def test_full_backward_hook_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    tm = torch.nn.Linear(3, 2)
    lm = nn.Linear(3, 2)
    lm.load_state_dict(tm.state_dict())
    got = {}

    def hook(key):
        def f(mod, gin, gout):
            got[key] = ([None if g is None else np.array(g.detach().numpy()) for g in gin],
                        [np.array(g.detach().numpy()) for g in gout])
            return tuple(None if g is None else g * 2 for g in gin)
        return f

    tm.register_full_backward_hook(hook("torch"))
    lm.register_full_backward_hook(hook("lamina"))
    tx, lx = torch.tensor(x, requires_grad=True), lamina.tensor(x, requires_grad=True)
    (tm(tx) ** 2).sum().backward()
    (lm(lx) ** 2).sum().backward()
    (tin, tout), (lin, lout) = got["torch"], got["lamina"]
    assert len(tin) == len(lin) == 1 and len(tout) == len(lout) == 1
    np.testing.assert_allclose(lin[0], tin[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lout[0], tout[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)  # doubled by both
    np.testing.assert_allclose(lm.weight.grad.numpy(), tm.weight.grad.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- containers

@needs_torch
def test_sequential_container():
    layers = [nn.Linear(3, 4), nn.Identity(), nn.Linear(4, 2)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and list(s) == layers and s[0] is layers[0] and s[-1] is layers[2]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]  # torch keeps the keys
    ts = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Identity(), torch.nn.Linear(4, 2))
    assert list(ts[1:]._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    s.append(nn.Flatten())
    assert list(s._modules) == ["0", "1", "2", "3"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is layers[2]  # renumbered, as torch
    od = nn.Sequential(OrderedDict([("fc", nn.Linear(3, 2)), ("out", nn.Identity())]))
    assert list(od.state_dict()) == ["fc.weight", "fc.bias"] and od.fc is od[0]
    x = lamina.randn(5, 3)
    np.testing.assert_allclose(s(x).detach().numpy(), layers[2](layers[0](x)).detach().numpy())
    tod = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(3, 2)), ("out", torch.nn.Identity())]))
    assert repr(od) == repr(tod)


@needs_torch
def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
    assert repr(ml) == repr(tl)  # "(0-2): 3 x Linear(...)"
    ml.append(nn.Identity())
    tl.append(torch.nn.Identity())
    ml.extend([nn.Linear(2, 3)])
    tl.extend([torch.nn.Linear(2, 3)])
    ml.insert(1, nn.Flatten())
    tl.insert(1, torch.nn.Flatten())
    assert repr(ml) == repr(tl) and len(ml) == 6
    assert list(ml.state_dict()) == list(tl.state_dict())
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2 and ml[-1] is list(ml)[-1]
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(5)
    md = nn.ModuleDict({"b": nn.Linear(2, 2), "a": nn.Identity()})
    td = torch.nn.ModuleDict({"b": torch.nn.Linear(2, 2), "a": torch.nn.Identity()})
    md["c"] = nn.Linear(2, 1)
    td["c"] = torch.nn.Linear(2, 1)
    assert list(md.keys()) == ["b", "a", "c"] and "a" in md and len(md) == 3
    assert repr(md) == repr(td) and list(md.state_dict()) == list(td.state_dict())
    assert md.pop("a").__class__ is nn.Identity and list(md) == ["b", "c"]
    pl = nn.ParameterList([lamina.zeros(2), nn.Parameter(lamina.ones(3))])
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"] and all(isinstance(p, nn.Parameter) for p in pl)
    pd = nn.ParameterDict({"x": lamina.zeros(2)})
    assert list(pd.state_dict()) == ["x"] and isinstance(pd["x"], nn.Parameter)


def test_load_state_dict_value_types():
    m = make_net(nn, lamina)
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    sd["features.3.num_batches_tracked"] = np.array(5, dtype=np.int32)  # widened to int64
    sd["features.0.bias"] = np.full(8, 0.5, dtype=np.float16)  # widened, then cast to float32
    sd["features.3.running_mean"] = [0.0] * 8  # a list is not a tensor
    with pytest.raises(RuntimeError, match=r'features\.3\.running_mean.*received <class \'list\'>'):
        m.load_state_dict(sd)
    del sd["features.3.running_mean"]
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["features.3.running_mean"] and res.unexpected_keys == []
    assert m.features[3].num_batches_tracked.item() == 5
    assert m.features[3].num_batches_tracked.dtype is lamina.int64
    assert m.features[0].bias.dtype is lamina.float32 and np.all(m.features[0].bias.detach().numpy() == 0.5)
    if torch is not None:
        m.load_state_dict({"features.0.bias": torch.full((8,), 0.25, dtype=torch.bfloat16)}, strict=False)
        assert np.all(m.features[0].bias.detach().numpy() == 0.25)
