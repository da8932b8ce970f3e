// Batch normalization (ops/norm.h) against naive double-precision loops: forward in training and
// evaluation mode with and without affine parameters and running stats, the running-stat update,
// the fused backward, both kernel walks (columnar for small S, planar for S >= 16), the thread
// count, and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/parallel.h"
#include "ops/norm.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_tensor;
using test::random_vec;
using test::to_vec;

// (N, C, S) view of a shape.
struct NCS {
  int64_t N, C, S;
};
NCS ncs(const Shape& s) {
  int64_t S = 1;
  for (size_t d = 2; d < s.size(); ++d) S *= s[d];
  return {s[0], s[1], S};
}
int64_t at(const NCS& d, int64_t n, int64_t c, int64_t s) { return (n * d.C + c) * d.S + s; }

struct Ref {
  std::vector<double> y, mean, invstd, rm, rv;
};

// The forward, naively, in double.
Ref ref_forward(const Shape& shape, const std::vector<double>& x, const std::vector<double>* w,
                const std::vector<double>* b, std::vector<double> rm, std::vector<double> rv, bool training,
                double momentum, double eps) {
  const NCS d = ncs(shape);
  const double cnt = static_cast<double>(d.N * d.S);
  Ref r;
  r.y.resize(x.size());
  for (int64_t c = 0; c < d.C; ++c) {
    double mean = 0, var = 0;
    if (training) {
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t s = 0; s < d.S; ++s) mean += x[at(d, n, c, s)];
      mean /= cnt;
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t s = 0; s < d.S; ++s) var += (x[at(d, n, c, s)] - mean) * (x[at(d, n, c, s)] - mean);
      var /= cnt;
      if (!rm.empty()) {
        rm[c] = (1 - momentum) * rm[c] + momentum * mean;
        rv[c] = (1 - momentum) * rv[c] + momentum * var * cnt / (cnt - 1);
      }
    } else {
      mean = rm[c];
      var = rv[c];
    }
    const double is = 1.0 / std::sqrt(var + eps);
    r.mean.push_back(mean);
    r.invstd.push_back(is);
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) {
        const int64_t i = at(d, n, c, s);
        r.y[i] = (x[i] - mean) * is * (w ? (*w)[c] : 1.0) + (b ? (*b)[c] : 0.0);
      }
  }
  r.rm = rm;
  r.rv = rv;
  return r;
}

template <typename T>
std::vector<double> as_double(const Tensor& t) {
  const auto v = to_vec<T>(t);
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
constexpr double tol() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

template <typename T>
void check_forward(const Shape& shape, bool training, bool affine, bool running, double momentum = 0.1) {
  SCOPED_TRACE(testing::Message() << "shape " << test::str(shape) << " training " << training << " affine "
                                  << affine << " running " << running << " " << dtype_name(DTypeOf<T>::value));
  std::mt19937 rng(17);
  const int64_t C = shape[1];
  const Tensor x = random_tensor<T>(shape, rng, -3.0, 5.0);
  const Tensor w = affine ? random_tensor<T>({C}, rng, 0.5, 1.5) : Tensor();
  const Tensor b = affine ? random_tensor<T>({C}, rng) : Tensor();
  Tensor rm, rv;
  if (running || !training) {
    rm = random_tensor<T>({C}, rng);
    rv = random_tensor<T>({C}, rng, 0.5, 2.0);
  }
  const auto xd = as_double<T>(x);
  const std::vector<double> wd = affine ? as_double<T>(w) : std::vector<double>();
  const std::vector<double> bd = affine ? as_double<T>(b) : std::vector<double>();
  const Ref ref = ref_forward(shape, xd, affine ? &wd : nullptr, affine ? &bd : nullptr,
                              rm.defined() ? as_double<T>(rm) : std::vector<double>(),
                              rv.defined() ? as_double<T>(rv) : std::vector<double>(), training, momentum, 1e-5);
  const BatchNormForward r = batch_norm_forward(x, w, b, rm, rv, training, momentum, 1e-5);
  ASSERT_EQ(r.output.sizes(), shape);
  const auto y = as_double<T>(r.output);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(close(y[i], ref.y[i], tol<T>(), tol<T>())) << "element " << i;
  const auto m = as_double<T>(r.save_mean), is = as_double<T>(r.save_invstd);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_TRUE(close(m[c], ref.mean[c], tol<T>(), tol<T>())) << "save_mean " << c;
    EXPECT_TRUE(close(is[c], ref.invstd[c], tol<T>())) << "save_invstd " << c;
  }
  if (rm.defined()) {
    const auto rmv = as_double<T>(rm), rvv = as_double<T>(rv);
    for (int64_t c = 0; c < C; ++c) {
      EXPECT_TRUE(close(rmv[c], ref.rm[c], tol<T>(), tol<T>())) << "running_mean " << c;
      EXPECT_TRUE(close(rvv[c], ref.rv[c], tol<T>(), tol<T>())) << "running_var " << c;
    }
  }
}

// Columnar (S < 16, incl. several column blocks when C * S > 512) and planar (S >= 16) walks,
// with run tails.
const std::vector<Shape> kShapes = {{7, 3}, {5, 4, 6}, {3, 2, 5, 7}, {2, 3, 16}, {2, 3, 15}, {1, 3, 17},
                                    {4, 600}, {3, 70, 9}, {3, 5, 41}, {2, 2, 3, 3, 3}, {100, 1100}, {40, 9, 130}};

// Runs the portable loops for a scope (the AVX2+FMA ones are picked wherever the CPU has them).
struct PortableGuard {
  explicit PortableGuard(bool on) { cpu::batch_norm_force_portable(on); }
  ~PortableGuard() { cpu::batch_norm_force_portable(false); }
};

TEST(BatchNormForward, MatchesNaiveLoops) {
  for (bool portable : {false, true}) {
    PortableGuard guard(portable);
    for (const Shape& s : kShapes)
      for (bool training : {true, false})
        for (bool affine : {true, false})
          for (bool running : {true, false}) {
            if (!training && !running) continue;
            check_forward<float>(s, training, affine, running);
            check_forward<double>(s, training, affine, running);
          }
  }
}

TEST(BatchNormForward, MomentumValues) {
  for (double m : {0.0, 0.5, 1.0, 1.0 / 3}) {
    check_forward<double>({6, 3, 5}, true, true, true, m);
    check_forward<float>({6, 3, 20}, true, false, true, m);
  }
}

TEST(BatchNormForward, LargeMeanKeepsPrecision) {
  // values 1e4 + U(-1, 1): a naive sum of squares in float would lose every digit of the variance.
  std::mt19937 rng(3);
  for (bool portable : {false, true}) {
    PortableGuard guard(portable);
    for (const Shape& s : {Shape{64, 2, 40}, Shape{300, 3}}) {
      std::vector<float> v = random_vec<float>(test::numel_of(s), rng, -1.0, 1.0);
      for (auto& e : v) e += 1e4f;
      const Tensor x = from_vec<float>(s, v);
      const auto r = batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
      const Ref ref = ref_forward(s, as_double<float>(x), nullptr, nullptr, {}, {}, true, 0.1, 0.0);
      const auto y = as_double<float>(r.output);
      for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(close(y[i], ref.y[i], 1e-4, 1e-4)) << i;
    }
  }
}

// The backward, naively, in double, from the forward's statistics.
template <typename T>
void check_backward(const Shape& shape, bool training, bool affine) {
  SCOPED_TRACE(testing::Message() << "shape " << test::str(shape) << " training " << training << " affine "
                                  << affine << " " << dtype_name(DTypeOf<T>::value));
  std::mt19937 rng(29);
  const int64_t C = shape[1];
  const NCS d = ncs(shape);
  const Tensor x = random_tensor<T>(shape, rng, -2.0, 3.0);
  const Tensor dy = random_tensor<T>(shape, rng);
  const Tensor w = affine ? random_tensor<T>({C}, rng, 0.5, 1.5) : Tensor();
  const Tensor rm = random_tensor<T>({C}, rng), rv = random_tensor<T>({C}, rng, 0.5, 2.0);
  const auto fwd = batch_norm_forward(x, w, Tensor(), training ? Tensor() : rm, training ? Tensor() : rv, training,
                                      0.1, 1e-5);
  const auto g = batch_norm_backward(dy, x, w, fwd.save_mean, fwd.save_invstd, training, {true, affine, affine});
  ASSERT_TRUE(g.grad_input.defined());
  EXPECT_EQ(g.grad_weight.defined(), affine);
  const auto xd = as_double<T>(x), gd = as_double<T>(dy);
  const auto m = as_double<T>(fwd.save_mean), is = as_double<T>(fwd.save_invstd);
  const auto dx = as_double<T>(g.grad_input);
  const double cnt = static_cast<double>(d.N * d.S);
  for (int64_t c = 0; c < C; ++c) {
    // exact statistics in double (training) or the running ones (eval)
    double mean = 0, invstd = is[c];
    if (training) {
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t s = 0; s < d.S; ++s) mean += xd[at(d, n, c, s)];
      mean /= cnt;
    } else {
      mean = m[c];
    }
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) {
        const int64_t i = at(d, n, c, s);
        sdy += gd[i];
        sdyx += gd[i] * (xd[i] - mean) * invstd;
      }
    const double wc = affine ? static_cast<double>(to_vec<T>(w)[c]) : 1.0;
    if (affine) {
      EXPECT_TRUE(close(to_vec<T>(g.grad_weight)[c], sdyx, 10 * tol<T>(), 10 * tol<T>())) << "dweight " << c;
      EXPECT_TRUE(close(to_vec<T>(g.grad_bias)[c], sdy, 10 * tol<T>(), 10 * tol<T>())) << "dbias " << c;
    }
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) {
        const int64_t i = at(d, n, c, s);
        const double want = training ? wc * invstd * (gd[i] - sdy / cnt - (xd[i] - mean) * invstd * sdyx / cnt)
                                     : wc * invstd * gd[i];
        ASSERT_TRUE(close(dx[i], want, 10 * tol<T>(), 10 * tol<T>())) << "dx " << i;
      }
  }
}

TEST(BatchNormBackward, MatchesNaiveLoops) {
  for (bool portable : {false, true}) {
    PortableGuard guard(portable);
    for (const Shape& s : kShapes)
      for (bool training : {true, false})
        for (bool affine : {true, false}) {
          check_backward<float>(s, training, affine);
          check_backward<double>(s, training, affine);
        }
  }
}

TEST(BatchNormBackward, OutputMask) {
  std::mt19937 rng(5);
  const Tensor x = random_tensor<float>({4, 3, 5}, rng), dy = random_tensor<float>({4, 3, 5}, rng);
  const Tensor w = random_tensor<float>({3}, rng);
  const auto f = batch_norm_forward(x, w, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  const auto only_w = batch_norm_backward(dy, x, w, f.save_mean, f.save_invstd, true, {false, true, false});
  EXPECT_FALSE(only_w.grad_input.defined());
  EXPECT_TRUE(only_w.grad_weight.defined());
  EXPECT_FALSE(only_w.grad_bias.defined());
  const auto all = batch_norm_backward(dy, x, w, f.save_mean, f.save_invstd, true, {true, true, true});
  EXPECT_EQ(to_vec<float>(only_w.grad_weight), to_vec<float>(all.grad_weight));
}

TEST(BatchNorm, SameResultForAnyThreadCount) {
  std::mt19937 rng(11);
  for (const Shape& s : {Shape{8, 70, 9, 9}, Shape{64, 1030}, Shape{6, 300, 3}}) {
    const Tensor x = random_tensor<float>(s, rng), dy = random_tensor<float>(s, rng);
    std::vector<std::vector<float>> outs;
    for (int nt : {1, 2, 4}) {
      test::ThreadGuard guard(nt);
      const Tensor rm = from_vec<float>({s[1]}, std::vector<float>(s[1], 0.0f));
      const Tensor rv = from_vec<float>({s[1]}, std::vector<float>(s[1], 1.0f));
      const auto f = batch_norm_forward(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
      const auto g = batch_norm_backward(dy, x, Tensor(), f.save_mean, f.save_invstd, true, {true, false, false});
      std::vector<float> all = to_vec<float>(f.output);
      for (const Tensor& t : {g.grad_input, rm, rv}) {
        const auto v = to_vec<float>(t);
        all.insert(all.end(), v.begin(), v.end());
      }
      outs.push_back(all);
    }
    EXPECT_EQ(outs[0], outs[1]);
    EXPECT_EQ(outs[0], outs[2]);
  }
}

TEST(BatchNorm, StridedRunningStatsAreUpdatedThroughTheView) {
  std::mt19937 rng(13);
  const Tensor x = random_tensor<double>({5, 3, 4}, rng);
  const Tensor buf = from_vec<double>({6}, {0, 100, 0, 100, 0, 100});
  const Tensor rm = buf.slice(0, 0, 6, 2);  // every other element
  const Tensor rv = from_vec<double>({3}, {1, 1, 1});
  batch_norm_forward(x, Tensor(), Tensor(), rm, rv, true, 0.5, 1e-5);
  const Ref ref = ref_forward({5, 3, 4}, as_double<double>(x), nullptr, nullptr, {0, 0, 0}, {1, 1, 1}, true, 0.5, 1e-5);
  const auto b = to_vec<double>(buf);
  for (int c = 0; c < 3; ++c) {
    EXPECT_TRUE(close(b[2 * c], ref.rm[c], 1e-14, 1e-14));
    EXPECT_EQ(b[2 * c + 1], 100.0);
  }
}

TEST(BatchNorm, BadArgumentsThrow) {
  std::mt19937 rng(1);
  const Tensor x = random_tensor<float>({4, 3, 5}, rng);
  const Tensor c3 = random_tensor<float>({3}, rng), c4 = random_tensor<float>({4}, rng);
  auto msg = expect_throw_msg<ValueError>([&] { batch_norm_forward(x, Tensor(), Tensor(), c4, c3, true, 0.1, 1e-5); });
  EXPECT_TRUE(contains(msg, "lamina.batch_norm: argument 'running_mean' should have shape [3]")) << msg;
  msg = expect_throw_msg<ValueError>([&] { batch_norm_forward(x, c4, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); });
  EXPECT_TRUE(contains(msg, "argument 'weight'")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    batch_norm_forward(random_tensor<float>({1, 3}, rng), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  });
  EXPECT_TRUE(contains(msg, "Expected more than 1 value per channel when training, got input size [1, 3]")) << msg;
  msg = expect_throw_msg<ValueError>([&] { batch_norm_forward(x, Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, 1e-5); });
  EXPECT_TRUE(contains(msg, "evaluation mode")) << msg;
  msg = expect_throw_msg<TypeError>([&] {
    batch_norm_forward(random_tensor<double>({4, 3}, rng), Tensor(), Tensor(), c3, c3, true, 0.1, 1e-5);
  });
  EXPECT_TRUE(contains(msg, "'running_mean' must have the input's dtype float64, got float32")) << msg;
  msg = expect_throw_msg<TypeError>([&] {
    batch_norm_forward(random_tensor<int64_t>({4, 3}, rng, 1, 9), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1,
                       1e-5);
  });
  EXPECT_TRUE(contains(msg, "must be float32 or float64, got int64")) << msg;
  msg = expect_throw_msg<ValueError>([&] { batch_norm_forward(c3, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); });
  EXPECT_TRUE(contains(msg, "(N, C)")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    batch_norm_backward(random_tensor<float>({4, 3}, rng), x, Tensor(), c3, c3, true, {true, true, true});
  });
  EXPECT_TRUE(contains(msg, "batch_norm_backward: argument 'grad_output' must have the input's shape")) << msg;
}

}  // namespace
}  // namespace lamina
