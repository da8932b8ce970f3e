// The fused optimizer kernels (ops/optim.h) against naive per-element reference loops written
// from torch's single-tensor formulas, over several steps, several tensors of awkward sizes (one
// larger than a work chunk), float and double; thread-count independence; the multi-tensor norm
// and scale; argument checks that fire before anything is written.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/parallel.h"
#include "ops/optim.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_vec;
using test::to_vec;

const std::vector<Shape> kShapes = {{7, 5}, {13}, {1}, {3, 4, 3}, {20011}};

template <typename T>
constexpr double rtol_for() {
  return std::is_same_v<T, float> ? 1e-6 : 1e-14;
}

template <typename T>
std::vector<Tensor> random_tensors(std::mt19937& rng, double lo = -2.0, double hi = 2.0) {
  std::vector<Tensor> out;
  for (const Shape& s : kShapes) out.push_back(test::random_tensor<T>(s, rng, lo, hi));
  return out;
}

template <typename T>
std::vector<Tensor> zeros_like(const std::vector<Tensor>& xs) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) out.push_back(from_vec<T>(x.sizes(), std::vector<T>(x.numel(), T(0))));
  return out;
}

// The elements of a tensor (fast for the contiguous ones the kernels use).
template <typename T>
std::vector<T> vec(const Tensor& x) {
  if (!x.is_contiguous()) return to_vec<T>(x);
  const T* p = x.data<T>();
  return std::vector<T>(p, p + x.numel());
}

template <typename T>
std::vector<std::vector<T>> values(const std::vector<Tensor>& xs) {
  std::vector<std::vector<T>> out;
  for (const Tensor& x : xs) out.push_back(vec<T>(x));
  return out;
}

template <typename T>
void expect_close(const std::vector<Tensor>& got, const std::vector<std::vector<T>>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const std::vector<T> g = vec<T>(got[i]);
    ASSERT_EQ(g.size(), want[i].size());
    for (size_t k = 0; k < g.size(); ++k) {
      const double tol = rtol_for<T>() * (1.0 + std::abs(static_cast<double>(want[i][k])));
      if (!(std::abs(static_cast<double>(g[k]) - static_cast<double>(want[i][k])) <= tol)) {
        FAIL() << what << " tensor " << i << " element " << k << ": got " << g[k] << ", want " << want[i][k];
      }
    }
  }
}

Tensor step_tensor(float v = 0.0f) { return from_vec<float>({}, {v}); }

template <typename T>
T ref_lerp(T a, T x, T w) {
  return std::abs(w) < T(0.5) ? a + w * (x - a) : x - (x - a) * (T(1) - w);
}

// ------------------------------------------------------------------------------------- SGD
template <typename T>
void run_sgd(const SGDOptions& o) {
  SCOPED_TRACE(std::string(dtype_name(DTypeOf<T>::value)) + " momentum " + std::to_string(o.momentum) +
               " dampening " + std::to_string(o.dampening) + " wd " + std::to_string(o.weight_decay) +
               (o.nesterov ? " nesterov" : "") + (o.maximize ? " maximize" : ""));
  std::mt19937 rng(42);
  std::vector<Tensor> params = random_tensors<T>(rng);
  auto p_ref = values<T>(params);
  std::vector<std::vector<T>> b_ref(params.size());
  std::vector<Tensor> bufs(params.size());  // undefined: first step
  if (o.momentum == 0.0) bufs.clear();
  for (int step = 0; step < 4; ++step) {
    std::vector<Tensor> grads = random_tensors<T>(rng);
    const auto g = values<T>(grads);
    for (size_t i = 0; i < params.size(); ++i) {
      if (step == 0) b_ref[i].resize(g[i].size());
      for (size_t k = 0; k < g[i].size(); ++k) {
        T& p = p_ref[i][k];
        T d = o.maximize ? -g[i][k] : g[i][k];
        if (o.weight_decay != 0.0) d = d + T(o.weight_decay) * p;
        if (o.momentum != 0.0) {
          T& b = b_ref[i][k];
          b = step == 0 ? d : b * T(o.momentum) + T(1.0 - o.dampening) * d;
          d = o.nesterov ? d + T(o.momentum) * b : b;
        }
        p = p + T(-o.lr) * d;
      }
    }
    const int64_t v0 = params[0].version();
    bufs = sgd_step(params, grads, bufs, o);
    EXPECT_GT(params[0].version(), v0);
    expect_close(params, p_ref, "param");
    if (o.momentum != 0.0) {
      ASSERT_EQ(bufs.size(), params.size());
      expect_close(bufs, b_ref, "momentum_buffer");
    } else {
      EXPECT_TRUE(bufs.empty());
    }
  }
}

TEST(Optim, SGDMatchesReference) {
  for (double momentum : {0.0, 0.9})
    for (bool nesterov : {false, true})
      for (double dampening : {0.0, 0.3})
        for (double wd : {0.0, 0.05})
          for (bool maximize : {false, true}) {
            if (nesterov && (momentum == 0.0 || dampening != 0.0)) continue;
            SGDOptions o;
            o.lr = 0.07;
            o.momentum = momentum;
            o.nesterov = nesterov;
            o.dampening = dampening;
            o.weight_decay = wd;
            o.maximize = maximize;
            run_sgd<float>(o);
            run_sgd<double>(o);
          }
}

// ------------------------------------------------------------------------------------- Adam
template <typename T>
void run_adam(const AdamOptions& o) {
  SCOPED_TRACE(std::string(dtype_name(DTypeOf<T>::value)) + (o.decoupled_weight_decay ? " adamw" : " adam") +
               (o.amsgrad ? " amsgrad" : "") + " wd " + std::to_string(o.weight_decay) + (o.maximize ? " maximize" : ""));
  std::mt19937 rng(7);
  std::vector<Tensor> params = random_tensors<T>(rng);
  std::vector<Tensor> m = zeros_like<T>(params), v = zeros_like<T>(params);
  std::vector<Tensor> vmax = o.amsgrad ? zeros_like<T>(params) : std::vector<Tensor>{};
  std::vector<Tensor> steps;
  // different step counts per parameter (as when some had no gradient on some steps)
  for (size_t i = 0; i < params.size(); ++i) steps.push_back(step_tensor(static_cast<float>(i)));
  auto p_ref = values<T>(params), m_ref = values<T>(m), v_ref = values<T>(v), x_ref = values<T>(m);
  for (int step = 0; step < 4; ++step) {
    std::vector<Tensor> grads = random_tensors<T>(rng);
    const auto g = values<T>(grads);
    for (size_t i = 0; i < params.size(); ++i) {
      const double t = static_cast<double>(i + step + 1);
      const double step_size = o.lr / (1.0 - std::pow(o.beta1, t));
      const double bc2s = std::pow(1.0 - std::pow(o.beta2, t), 0.5);
      for (size_t k = 0; k < g[i].size(); ++k) {
        T& p = p_ref[i][k];
        T d = o.maximize ? -g[i][k] : g[i][k];
        if (o.weight_decay != 0.0) {
          if (o.decoupled_weight_decay) {
            p = p * T(1.0 - o.lr * o.weight_decay);
          } else {
            d = d + T(o.weight_decay) * p;
          }
        }
        m_ref[i][k] = ref_lerp(m_ref[i][k], d, T(1.0 - o.beta1));
        v_ref[i][k] = v_ref[i][k] * T(o.beta2) + T(1.0 - o.beta2) * d * d;
        T s = v_ref[i][k];
        if (o.amsgrad) {
          x_ref[i][k] = std::max(x_ref[i][k], v_ref[i][k]);
          s = x_ref[i][k];
        }
        p = p + T(-step_size) * m_ref[i][k] / (std::sqrt(s) / T(bc2s) + T(o.eps));
      }
    }
    adam_step(params, grads, m, v, vmax, steps, o);
    expect_close(params, p_ref, "param");
    expect_close(m, m_ref, "exp_avg");
    expect_close(v, v_ref, "exp_avg_sq");
    if (o.amsgrad) expect_close(vmax, x_ref, "max_exp_avg_sq");
    for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].data<float>()[0], static_cast<float>(i + step + 1));
  }
}

TEST(Optim, AdamMatchesReference) {
  for (bool decoupled : {false, true})
    for (bool amsgrad : {false, true})
      for (double wd : {0.0, 0.1})
        for (bool maximize : {false, true}) {
          AdamOptions o;
          o.lr = 0.01;
          o.beta1 = 0.8;  // 1 - beta1 < 0.5: lerp's first branch
          o.beta2 = 0.99;
          o.decoupled_weight_decay = decoupled;
          o.amsgrad = amsgrad;
          o.weight_decay = wd;
          o.maximize = maximize;
          run_adam<float>(o);
          run_adam<double>(o);
        }
  AdamOptions o;
  o.beta1 = 0.3;  // 1 - beta1 >= 0.5: lerp's second branch
  run_adam<float>(o);
  run_adam<double>(o);
}

// ------------------------------------------------------------------------------------- RMSprop
template <typename T>
void run_rmsprop(const RMSpropOptions& o) {
  SCOPED_TRACE(std::string(dtype_name(DTypeOf<T>::value)) + (o.centered ? " centered" : "") + " momentum " +
               std::to_string(o.momentum) + " wd " + std::to_string(o.weight_decay) + (o.maximize ? " maximize" : ""));
  std::mt19937 rng(9);
  std::vector<Tensor> params = random_tensors<T>(rng);
  std::vector<Tensor> sq = zeros_like<T>(params);
  std::vector<Tensor> ga = o.centered ? zeros_like<T>(params) : std::vector<Tensor>{};
  std::vector<Tensor> mb = o.momentum > 0 ? zeros_like<T>(params) : std::vector<Tensor>{};
  std::vector<Tensor> steps;
  for (size_t i = 0; i < params.size(); ++i) steps.push_back(step_tensor());
  auto p_ref = values<T>(params), sq_ref = values<T>(sq), ga_ref = values<T>(sq), mb_ref = values<T>(sq);
  for (int step = 0; step < 4; ++step) {
    std::vector<Tensor> grads = random_tensors<T>(rng);
    const auto g = values<T>(grads);
    for (size_t i = 0; i < params.size(); ++i) {
      for (size_t k = 0; k < g[i].size(); ++k) {
        T& p = p_ref[i][k];
        T d = o.maximize ? -g[i][k] : g[i][k];
        if (o.weight_decay != 0.0) d = d + T(o.weight_decay) * p;
        sq_ref[i][k] = sq_ref[i][k] * T(o.alpha) + T(1.0 - o.alpha) * d * d;
        T avg;
        if (o.centered) {
          ga_ref[i][k] = ref_lerp(ga_ref[i][k], d, T(1.0 - o.alpha));
          avg = std::sqrt(sq_ref[i][k] + T(-1) * ga_ref[i][k] * ga_ref[i][k]);
        } else {
          avg = std::sqrt(sq_ref[i][k]);
        }
        avg = avg + T(o.eps);
        if (o.momentum > 0) {
          mb_ref[i][k] = mb_ref[i][k] * T(o.momentum) + T(1) * d / avg;
          p = p + T(-o.lr) * mb_ref[i][k];
        } else {
          p = p + T(-o.lr) * d / avg;
        }
      }
    }
    rmsprop_step(params, grads, sq, ga, mb, steps, o);
    expect_close(params, p_ref, "param");
    expect_close(sq, sq_ref, "square_avg");
    if (o.centered) expect_close(ga, ga_ref, "grad_avg");
    if (o.momentum > 0) expect_close(mb, mb_ref, "momentum_buffer");
    EXPECT_EQ(steps[0].data<float>()[0], static_cast<float>(step + 1));
  }
}

TEST(Optim, RMSpropMatchesReference) {
  for (bool centered : {false, true})
    for (double momentum : {0.0, 0.9})
      for (double wd : {0.0, 0.1})
        for (bool maximize : {false, true}) {
          RMSpropOptions o;
          o.lr = 0.01;
          o.alpha = 0.9;
          o.centered = centered;
          o.momentum = momentum;
          o.weight_decay = wd;
          o.maximize = maximize;
          run_rmsprop<float>(o);
          run_rmsprop<double>(o);
        }
}

TEST(Optim, ResultsDoNotDependOnThreadCount) {
  std::vector<std::vector<float>> results[2];
  for (int threads : {1, 2}) {
    test::ThreadGuard guard(threads);
    std::mt19937 rng(3);
    std::vector<Tensor> params = random_tensors<float>(rng), grads = random_tensors<float>(rng);
    // enough elements in all for the parallel path (several chunks per tensor)
    params.push_back(test::random_tensor<float>({70001}, rng));
    grads.push_back(test::random_tensor<float>({70001}, rng));
    std::vector<Tensor> m = zeros_like<float>(params), v = zeros_like<float>(params);
    std::vector<Tensor> steps;
    for (size_t i = 0; i < params.size(); ++i) steps.push_back(step_tensor());
    AdamOptions o;
    adam_step(params, grads, m, v, {}, steps, o);
    results[threads - 1] = values<float>(params);
    results[threads - 1].push_back({static_cast<float>(multi_tensor_norm(grads, 2.0))});
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST(Optim, PortableKernelsMatchReference) {
  // The same checks through the SSE2 kernels (the AVX2 ones run above where the CPU has AVX2).
  cpu::optim_force_portable(true);
  SGDOptions s;
  s.lr = 0.05;
  s.momentum = 0.9;
  s.nesterov = true;
  s.weight_decay = 0.01;
  run_sgd<float>(s);
  run_sgd<double>(s);
  for (bool amsgrad : {false, true}) {
    AdamOptions a;
    a.amsgrad = amsgrad;
    a.weight_decay = 0.1;
    a.decoupled_weight_decay = amsgrad;
    run_adam<float>(a);
    run_adam<double>(a);
  }
  RMSpropOptions r;
  r.centered = true;
  r.momentum = 0.5;
  run_rmsprop<float>(r);
  run_rmsprop<double>(r);
  cpu::optim_force_portable(false);
}

TEST(Optim, InstructionSetsGiveIdenticalBits) {
  std::vector<std::vector<float>> results[2];
  std::vector<double> norms[2];
  for (int portable : {0, 1}) {
    cpu::optim_force_portable(portable == 1);
    std::mt19937 rng(4);
    std::vector<Tensor> params = random_tensors<float>(rng), grads = random_tensors<float>(rng);
    std::vector<Tensor> sq = zeros_like<float>(params), ga = zeros_like<float>(params), mb = zeros_like<float>(params);
    std::vector<Tensor> steps;
    for (size_t i = 0; i < params.size(); ++i) steps.push_back(step_tensor());
    RMSpropOptions o;
    o.centered = true;
    o.momentum = 0.9;
    rmsprop_step(params, grads, sq, ga, mb, steps, o);
    multi_tensor_scale_(grads, 0.7);
    results[portable] = values<float>(params);
    for (const auto& g : values<float>(grads)) results[portable].push_back(g);
    for (double p : {1.0, 2.0, 3.0, std::numeric_limits<double>::infinity()}) {
      norms[portable].push_back(multi_tensor_norm(grads, p));
    }
  }
  EXPECT_EQ(norms[0], norms[1]);
  cpu::optim_force_portable(false);
  EXPECT_EQ(results[0], results[1]);
}

TEST(Optim, EmptyListsAndEmptyTensors) {
  SGDOptions o;
  o.momentum = 0.9;
  EXPECT_TRUE(sgd_step({}, {}, {}, o).empty());
  Tensor p = Tensor::empty({0, 3}, DType::Float32), g = Tensor::empty({0, 3}, DType::Float32);
  std::vector<Tensor> bufs = sgd_step({p}, {g}, {Tensor()}, o);
  ASSERT_EQ(bufs.size(), 1u);
  EXPECT_EQ(bufs[0].sizes(), p.sizes());
  EXPECT_EQ(multi_tensor_norm({}, 2.0), 0.0);
  EXPECT_EQ(multi_tensor_norm({g}, 2.0), 0.0);
}

// ------------------------------------------------------------------------------------- norms
double ref_norm(const std::vector<std::vector<double>>& xs, double p) {
  std::vector<double> norms;
  for (const auto& x : xs) {
    double acc = std::isinf(p) && p < 0 ? std::numeric_limits<double>::infinity() : 0.0;
    for (double v : x) {
      const double a = std::abs(v);
      if (std::isinf(p)) acc = p > 0 ? std::max(acc, a) : std::min(acc, a);
      else if (p == 0) acc += v != 0;
      else acc += std::pow(a, p);
    }
    norms.push_back(std::isinf(p) || p == 0 ? acc : std::pow(acc, 1.0 / p));
  }
  double acc = std::isinf(p) && p < 0 ? std::numeric_limits<double>::infinity() : 0.0;
  for (double n : norms) {
    if (std::isinf(p)) acc = p > 0 ? std::max(acc, n) : std::min(acc, n);
    else if (p == 0) acc += n != 0;
    else acc += std::pow(n, p);
  }
  return std::isinf(p) || p == 0 ? acc : std::pow(acc, 1.0 / p);
}

TEST(Optim, MultiTensorNorm) {
  std::mt19937 rng(5);
  std::vector<Tensor> xs = random_tensors<float>(rng);
  xs.push_back(test::random_tensor<double>({11, 3}, rng).transpose(0, 1));  // float64, non-contiguous
  std::vector<std::vector<double>> vals;
  for (const Tensor& x : xs) {
    if (x.dtype() == DType::Float32) {
      const auto v = to_vec<float>(x);
      vals.emplace_back(v.begin(), v.end());
    } else {
      vals.push_back(to_vec<double>(x));
    }
  }
  const double inf = std::numeric_limits<double>::infinity();
  for (double p : {1.0, 2.0, 3.0, 0.5, inf, -inf, 0.0}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    EXPECT_TRUE(close(multi_tensor_norm(xs, p), ref_norm(vals, p), 1e-12));
  }
  // NaN propagates for sums and extremes alike; inf gives inf
  Tensor bad = from_vec<float>({4}, {1.0f, std::nanf(""), 2.0f, -3.0f});
  for (double p : {1.0, 2.0, inf, -inf}) EXPECT_TRUE(std::isnan(multi_tensor_norm({xs[0], bad}, p)));
  Tensor big = from_vec<float>({2}, {std::numeric_limits<float>::infinity(), 1.0f});
  EXPECT_EQ(multi_tensor_norm({big}, 2.0), inf);
  EXPECT_TRUE(test::starts_with(expect_throw_msg<ValueError>([&] { multi_tensor_norm(xs, std::nan("")); }),
                                "lamina.clip_grad_norm_: argument 'norm_type'"));
}

TEST(Optim, MultiTensorScale) {
  std::mt19937 rng(6);
  std::vector<Tensor> xs = random_tensors<float>(rng);
  xs.push_back(test::random_tensor<double>({9}, rng));
  const auto f = values<float>(std::vector<Tensor>(xs.begin(), xs.end() - 1));
  const auto d = to_vec<double>(xs.back());
  multi_tensor_scale_(xs, 0.3);
  for (size_t i = 0; i + 1 < xs.size(); ++i) {
    const auto got = to_vec<float>(xs[i]);
    for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], f[i][k] * 0.3f);
  }
  const auto got = to_vec<double>(xs.back());
  for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], d[k] * 0.3);
}

// ------------------------------------------------------------------------------------- checks
TEST(Optim, ChecksComeBeforeWrites) {
  std::mt19937 rng(8);
  Tensor p0 = test::random_tensor<float>({5}, rng), p1 = test::random_tensor<float>({3}, rng);
  const auto before = to_vec<float>(p0);
  Tensor g0 = test::random_tensor<float>({5}, rng);
  SGDOptions o;
  o.lr = 0.1;
  auto msg = expect_throw_msg<ValueError>([&] { sgd_step({p0, p1}, {g0, test::random_tensor<float>({4}, rng)}, {}, o); });
  EXPECT_TRUE(contains(msg, "lamina.sgd: argument 'grads[1]' must have the shape of params[1] [3], got [4]")) << msg;
  msg = expect_throw_msg<TypeError>([&] { sgd_step({p0, p1}, {g0, test::random_tensor<double>({3}, rng)}, {}, o); });
  EXPECT_TRUE(contains(msg, "'grads[1]' must have the dtype of params[1] (float32), got float64")) << msg;
  msg = expect_throw_msg<ValueError>([&] { sgd_step({p0}, {}, {}, o); });
  EXPECT_TRUE(contains(msg, "argument 'grads' must have one tensor per parameter (1), got 0")) << msg;
  msg = expect_throw_msg<ValueError>([&] { sgd_step({p0}, {Tensor()}, {}, o); });
  EXPECT_TRUE(contains(msg, "'grads[0]' is an undefined tensor")) << msg;
  Tensor wide = test::random_tensor<float>({3, 5}, rng);
  msg = expect_throw_msg<ValueError>([&] { sgd_step({wide.transpose(0, 1)}, {test::random_tensor<float>({5, 3}, rng)}, {}, o); });
  EXPECT_TRUE(contains(msg, "'params[0]' must be contiguous")) << msg;
  o.momentum = 0.9;
  msg = expect_throw_msg<ValueError>([&] { sgd_step({p0}, {g0}, {}, o); });
  EXPECT_TRUE(contains(msg, "'momentum_buffers' must have one entry")) << msg;
  o.nesterov = true;
  o.dampening = 0.1;
  msg = expect_throw_msg<ValueError>([&] { sgd_step({p0}, {g0}, {Tensor()}, o); });
  EXPECT_TRUE(contains(msg, "Nesterov momentum requires a momentum and zero dampening")) << msg;
  o = SGDOptions();
  o.lr = -1;
  msg = expect_throw_msg<ValueError>([&] { sgd_step({p0}, {g0}, {}, o); });
  EXPECT_TRUE(contains(msg, "Invalid learning rate: -1")) << msg;

  AdamOptions a;
  Tensor m = from_vec<float>({5}, std::vector<float>(5, 0.0f)), v = from_vec<float>({5}, std::vector<float>(5, 0.0f));
  Tensor s = step_tensor();
  msg = expect_throw_msg<ValueError>([&] { adam_step({p0}, {g0}, {m}, {v}, {}, {from_vec<float>({2}, {0.f, 0.f})}, a); });
  EXPECT_TRUE(contains(msg, "'steps[0]' must hold one element, got shape [2]")) << msg;
  msg = expect_throw_msg<TypeError>([&] { adam_step({p0}, {g0}, {m}, {v}, {}, {from_vec<int64_t>({}, {0})}, a); });
  EXPECT_TRUE(contains(msg, "'steps[0]' must be a float32 or float64 tensor, got int64")) << msg;
  msg = expect_throw_msg<ValueError>([&] { adam_step({p0}, {g0}, {m}, {v}, {m}, {s}, a); });
  EXPECT_TRUE(contains(msg, "'max_exp_avg_sqs' must be empty unless amsgrad")) << msg;
  a.amsgrad = true;
  msg = expect_throw_msg<ValueError>([&] { adam_step({p0}, {g0}, {m}, {v}, {}, {s}, a); });
  EXPECT_TRUE(contains(msg, "'max_exp_avg_sqs' must have one tensor per parameter")) << msg;
  a = AdamOptions();
  a.beta1 = 1.0;
  msg = expect_throw_msg<ValueError>([&] { adam_step({p0}, {g0}, {m}, {v}, {}, {s}, a); });
  EXPECT_TRUE(contains(msg, "Invalid beta parameter at index 0: 1")) << msg;
  EXPECT_EQ(s.data<float>()[0], 0.0f);  // step not incremented by a failed call

  RMSpropOptions r;
  msg = expect_throw_msg<ValueError>([&] { rmsprop_step({p0}, {g0}, {m}, {}, {v}, {s}, r); });
  EXPECT_TRUE(contains(msg, "'momentum_buffers' must be empty unless momentum > 0")) << msg;
  msg = expect_throw_msg<TypeError>([&] { rmsprop_step({from_vec<int64_t>({1}, {1})}, {g0}, {m}, {}, {}, {s}, r); });
  EXPECT_TRUE(contains(msg, "'params[0]' must be a float32 or float64 tensor, got int64")) << msg;
  r.alpha = -0.5;
  msg = expect_throw_msg<ValueError>([&] { rmsprop_step({p0}, {g0}, {m}, {}, {}, {s}, r); });
  EXPECT_TRUE(contains(msg, "Invalid alpha value: -0.5")) << msg;

  msg = expect_throw_msg<TypeError>([&] { multi_tensor_scale_({from_vec<int64_t>({1}, {1})}, 2.0); });
  EXPECT_TRUE(contains(msg, "'tensors[0]' must be a float32 or float64 tensor")) << msg;

  EXPECT_EQ(to_vec<float>(p0), before);
  EXPECT_EQ(s.data<float>()[0], 0.0f);
}

}  // namespace
}  // namespace lamina
