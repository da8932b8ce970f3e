// The fused cross entropy (ops/loss.h) against a naive double-precision reference: log_softmax
// written out, the NLL with a materialised target distribution, and the backward through the
// chain rule (d loss / d log p, then log_softmax's backward). Also: nll_loss, thread-count
// independence, huge logits, and labels out of range.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "ops/loss.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_vec;
using test::to_vec;

struct Case {
  Shape shape;         // input shape: (C), (N, C) or (N, C, d...)
  bool prob = false;   // class-probability targets
  bool weighted = false;
  int64_t ignore_index = -100;
  bool some_ignored = false;
  double eps = 0.0;
  LossReduction reduction = LossReduction::Mean;
};

struct Geometry {
  int64_t N, C, S;
  Shape out_shape;
};

Geometry geometry(const Shape& s) {
  if (s.size() == 1) return {1, s[0], 1, {}};
  Geometry g{s[0], s[1], 1, {s[0]}};
  for (size_t d = 2; d < s.size(); ++d) {
    g.S *= s[d];
    g.out_shape.push_back(s[d]);
  }
  return g;
}

struct Reference {
  std::vector<double> loss;  // per position (reduction none) or one value
  std::vector<double> dx, dt;
};

// Everything in double, straight from the definitions (torch.nn.functional.cross_entropy).
Reference naive_cross_entropy(const Case& k, const Geometry& g, const std::vector<double>& x,
                              const std::vector<int64_t>& labels, const std::vector<double>& probs,
                              const std::vector<double>& w, const std::vector<double>& grad) {
  const int64_t N = g.N, C = g.C, S = g.S, P = N * S;
  auto X = [&](int64_t n, int64_t c, int64_t s) { return x[(n * C + c) * S + s]; };
  auto W = [&](int64_t c) { return w.empty() ? 1.0 : w[c]; };
  std::vector<double> loss(P, 0.0), logp(N * C * S), target(N * C * S, 0.0), active(P, 1.0);
  double total_weight = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t s = 0; s < S; ++s) {
      const int64_t pos = n * S + s;
      double m = -INFINITY;
      for (int64_t c = 0; c < C; ++c) m = std::max(m, X(n, c, s));
      double sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += std::exp(X(n, c, s) - m);
      for (int64_t c = 0; c < C; ++c) logp[(n * C + c) * S + s] = X(n, c, s) - m - std::log(sum);
      // the target distribution q, smoothed, and the per-class factor of the loss
      if (k.prob) {
        for (int64_t c = 0; c < C; ++c)
          target[(n * C + c) * S + s] = probs[(n * C + c) * S + s] * (1 - k.eps) + k.eps / C;
        total_weight += 1;
      } else if (labels[pos] == k.ignore_index) {
        active[pos] = 0;
      } else {
        for (int64_t c = 0; c < C; ++c)
          target[(n * C + c) * S + s] = (c == labels[pos] ? 1 - k.eps : 0.0) + k.eps / C;
        total_weight += W(labels[pos]);
      }
      for (int64_t c = 0; c < C; ++c) {
        // index targets weigh the NLL part by w[y] and the smoothing part by w[c] (as torch)
        const double q = target[(n * C + c) * S + s];
        double wq = W(c) * q;
        if (!k.prob && active[pos] != 0)
          wq = (c == labels[pos] ? (1 - k.eps) * W(labels[pos]) : 0.0) + k.eps / C * W(c);
        loss[pos] -= active[pos] * wq * logp[(n * C + c) * S + s];
      }
    }
  }
  Reference r;
  double scale = 1;
  if (k.reduction == LossReduction::None) {
    r.loss = loss;
  } else {
    double sum = 0;
    for (double v : loss) sum += v;
    if (k.reduction == LossReduction::Mean) scale = 1.0 / total_weight;
    r.loss = {sum * scale};
  }
  // backward: dL/dlogp_c = -g * wq_c, then dx_c = dlogp_c - p_c * sum_k dlogp_k
  r.dx.assign(N * C * S, 0.0);
  r.dt.assign(N * C * S, 0.0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t s = 0; s < S; ++s) {
      const int64_t pos = n * S + s;
      const double gp = (k.reduction == LossReduction::None ? grad[pos] : grad[0]) * scale;
      std::vector<double> dlogp(C);
      double total = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double q = target[(n * C + c) * S + s];
        double wq = W(c) * q;
        if (!k.prob && active[pos] != 0)
          wq = (c == labels[pos] ? (1 - k.eps) * W(labels[pos]) : 0.0) + k.eps / C * W(c);
        dlogp[c] = active[pos] != 0 ? -gp * wq : 0.0;  // an ignored target: no gradient at all
        total += dlogp[c];
      }
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = (n * C + c) * S + s;
        r.dx[i] = dlogp[c] - std::exp(logp[i]) * total;
        if (k.prob) r.dt[i] = -gp * W(c) * (1 - k.eps) * logp[i];
      }
    }
  }
  return r;
}

template <typename T>
std::vector<double> as_double(const Tensor& t) {
  const auto v = to_vec<T>(t);
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
Tensor tensor_of(const Shape& shape, const std::vector<double>& v) {
  return from_vec<T>(shape, std::vector<T>(v.begin(), v.end()));
}

// Runs one case in dtype T and compares the loss and both gradients with the reference.
template <typename T>
void run_case(const Case& k, std::mt19937& rng, double rtol, double atol) {
  const Geometry g = geometry(k.shape);
  const int64_t P = g.N * g.S, numel = P * g.C;
  std::vector<double> x = random_vec<double>(numel, rng, -4.0, 4.0);
  for (double& v : x) v = static_cast<double>(static_cast<T>(v));  // exactly representable in T
  std::vector<int64_t> labels;
  std::vector<double> probs, w, grad;
  if (k.prob) {
    probs = random_vec<double>(numel, rng, 0.05, 1.0);
    for (double& v : probs) v = static_cast<double>(static_cast<T>(v));
  } else {
    std::uniform_int_distribution<int64_t> cls(0, g.C - 1);
    for (int64_t i = 0; i < P; ++i) labels.push_back(k.some_ignored && i % 3 == 1 ? k.ignore_index : cls(rng));
    // with an in-range ignore_index, only the chosen positions carry it
    if (k.ignore_index >= 0)
      for (int64_t i = 0; i < P; ++i)
        if (labels[i] == k.ignore_index && !(k.some_ignored && i % 3 == 1)) labels[i] = (k.ignore_index + 1) % g.C;
  }
  if (k.weighted) {
    w = random_vec<double>(g.C, rng, 0.2, 2.0);
    for (double& v : w) v = static_cast<double>(static_cast<T>(v));
  }
  const Shape grad_shape = k.reduction == LossReduction::None ? g.out_shape : Shape{};
  grad = random_vec<double>(k.reduction == LossReduction::None ? P : 1, rng, -2.0, 2.0);
  for (double& v : grad) v = static_cast<double>(static_cast<T>(v));

  const Tensor tx = tensor_of<T>(k.shape, x);
  const Tensor tt = k.prob ? tensor_of<T>(k.shape, probs) : from_vec<int64_t>(g.out_shape, labels);
  const Tensor tw = k.weighted ? tensor_of<T>({g.C}, w) : Tensor();
  const ClassLossOptions opt{k.ignore_index, k.reduction, k.eps};
  const ClassLossForward f = cross_entropy_forward(tx, tt, tw, opt);
  const bool need[3] = {true, k.prob, false};
  const ClassLossGrads b =
      cross_entropy_backward(tensor_of<T>(grad_shape, grad), tx, tt, tw, f.lse, f.total_weight, opt, need);

  const Reference ref = naive_cross_entropy(k, g, x, labels, probs, w, grad);
  // Gradient entries are differences of terms as large as the largest entry: the absolute
  // tolerance scales with it (a few ulps of T there).
  double scale = 1;
  for (double v : ref.dx) scale = std::max(scale, std::fabs(v));
  for (double v : ref.dt) scale = std::max(scale, std::fabs(v));
  atol *= scale;
  EXPECT_EQ(test::str(f.loss.sizes()), test::str(grad_shape));
  const auto loss = as_double<T>(f.loss);
  ASSERT_EQ(loss.size(), ref.loss.size());
  for (size_t i = 0; i < loss.size(); ++i) EXPECT_TRUE(close(loss[i], ref.loss[i], rtol, atol)) << "loss " << i;
  const auto dx = as_double<T>(b.input);
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_TRUE(close(dx[i], ref.dx[i], rtol, atol)) << "dx " << i;
  if (k.prob) {
    ASSERT_TRUE(b.target.defined());
    const auto dt = as_double<T>(b.target);
    for (size_t i = 0; i < dt.size(); ++i) EXPECT_TRUE(close(dt[i], ref.dt[i], rtol, atol)) << "dtarget " << i;
  } else {
    EXPECT_FALSE(b.target.defined());
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const std::vector<Shape> shapes = {{7}, {5, 7}, {3, 5, 3, 2}, {2, 4, 5}, {1, 1}, {2, 3, 70}};
  for (const Shape& s : shapes)
    for (LossReduction red : {LossReduction::None, LossReduction::Mean, LossReduction::Sum})
      for (bool weighted : {false, true})
        for (double eps : {0.0, 0.1, 1.0}) {
          for (int ignore_mode = 0; ignore_mode < 3; ++ignore_mode) {
            Case k{s, false, weighted, ignore_mode == 2 ? 2 : -100, ignore_mode > 0 && s.size() > 1, eps, red};
            if (k.ignore_index >= (s.size() == 1 ? s[0] : s[1])) k.ignore_index = 0;
            cases.push_back(k);
          }
          cases.push_back(Case{s, true, weighted, -100, false, eps, red});
        }
  return cases;
}

TEST(LossCrossEntropy, MatchesNaiveReferenceDouble) {
  std::mt19937 rng(11);
  for (const Case& k : all_cases()) {
    SCOPED_TRACE(test::str(k.shape) + (k.prob ? " prob" : " index") + (k.weighted ? " weighted" : "") +
                 " ignore=" + std::to_string(k.ignore_index) + (k.some_ignored ? "(used)" : "") +
                 " eps=" + std::to_string(k.eps) + " reduction=" + std::to_string(static_cast<int>(k.reduction)));
    run_case<double>(k, rng, 1e-12, 1e-14);
  }
}

TEST(LossCrossEntropy, MatchesNaiveReferenceFloat) {
  std::mt19937 rng(12);
  for (const Case& k : all_cases()) {
    SCOPED_TRACE(test::str(k.shape) + (k.prob ? " prob" : " index"));
    run_case<float>(k, rng, 2e-6, 1e-6);
  }
}

TEST(LossCrossEntropy, ThreadCountDoesNotChangeResults) {
  // Sums go over fixed blocks in a fixed order: 1 and 2 threads agree bit for bit.
  std::mt19937 rng(13);
  const Shape shape = {3001, 13};
  const Tensor x = test::random_tensor<float>(shape, rng, -5, 5);
  std::vector<int64_t> labels(3001);
  for (auto& v : labels) v = static_cast<int64_t>(rng() % 13);
  const Tensor y = from_vec<int64_t>({3001}, labels);
  const ClassLossOptions opt{-100, LossReduction::Mean, 0.1};
  std::vector<float> loss[2], grad[2];
  for (int threads : {1, 2}) {
    test::ThreadGuard guard(threads);
    const ClassLossForward f = cross_entropy_forward(x, y, Tensor(), opt);
    const bool need[3] = {true, false, false};
    const ClassLossGrads b = cross_entropy_backward(from_vec<float>({}, {1.0f}), x, y, Tensor(), f.lse,
                                                    f.total_weight, opt, need);
    loss[threads - 1] = to_vec<float>(f.loss);
    grad[threads - 1] = to_vec<float>(b.input);
  }
  EXPECT_EQ(loss[0], loss[1]);
  EXPECT_EQ(grad[0], grad[1]);
}

TEST(LossCrossEntropy, HugeLogitsStayFinite) {
  // logits of +-1e4: the shifted log-sum-exp keeps the loss and the gradient exact.
  const Tensor x = from_vec<float>({3, 3}, {1e4f, -1e4f, 0.0f, -1e4f, 1e4f, 1e4f, -1e4f, -1e4f, -1e4f});
  const Tensor y = from_vec<int64_t>({3}, {1, 0, 2});
  const ClassLossOptions opt{-100, LossReduction::None, 0.0};
  const ClassLossForward f = cross_entropy_forward(x, y, Tensor(), opt);
  const auto loss = to_vec<float>(f.loss);
  EXPECT_TRUE(close(loss[0], 2e4, 1e-7));
  EXPECT_TRUE(close(loss[1], 2e4 + std::log(2.0), 1e-7));
  EXPECT_TRUE(close(loss[2], std::log(3.0), 1e-6));
  const bool need[3] = {true, false, false};
  const ClassLossGrads b =
      cross_entropy_backward(from_vec<float>({3}, {1, 1, 1}), x, y, Tensor(), f.lse, f.total_weight, opt, need);
  const auto dx = to_vec<float>(b.input);
  const std::vector<double> want = {1, -1, 0, -1, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3 - 1};
  for (size_t i = 0; i < dx.size(); ++i) EXPECT_TRUE(close(dx[i], want[i], 1e-6, 1e-7)) << i;
}

TEST(LossNllLoss, MatchesNaiveReference) {
  std::mt19937 rng(14);
  const Shape shape = {4, 5, 3};
  const Tensor x = test::random_tensor<double>(shape, rng);
  const std::vector<int64_t> labels = {0, 4, -100, 2, 2, 1, 3, -100, 0, 4, 1, 1};
  const Tensor y = from_vec<int64_t>({4, 3}, labels);
  const std::vector<double> w = {0.5, 1.5, 2.0, 0.25, 1.0};
  const Tensor tw = from_vec<double>({5}, w);
  const auto xv = to_vec<double>(x);
  double sum = 0, total = 0;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t s = 0; s < 3; ++s) {
      const int64_t yv = labels[n * 3 + s];
      if (yv == -100) continue;
      sum -= w[yv] * xv[(n * 5 + yv) * 3 + s];
      total += w[yv];
    }
  const ClassLossOptions opt{-100, LossReduction::Mean, 0.0};
  const ClassLossForward f = nll_loss_forward(x, y, tw, opt);
  EXPECT_TRUE(close(to_vec<double>(f.loss)[0], sum / total, 1e-14));
  const Tensor dx = nll_loss_backward(from_vec<double>({}, {2.0}), x, y, tw, f.total_weight, opt);
  const auto d = to_vec<double>(dx);
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < 5; ++c)
      for (int64_t s = 0; s < 3; ++s) {
        const int64_t yv = labels[n * 3 + s];
        const double want = yv == c ? -2.0 * w[c] / total : 0.0;
        EXPECT_EQ(d[(n * 5 + c) * 3 + s], want);
      }
}

TEST(LossCrossEntropy, BadLabelsThrowBeforeTouchingMemory) {
  const Tensor x = from_vec<float>({2, 10}, std::vector<float>(20, 0.5f));
  const ClassLossOptions opt;
  for (int64_t bad : {10, -1, 1000000}) {
    const Tensor y = from_vec<int64_t>({2}, {3, bad});
    const std::string msg = expect_throw_msg<IndexError>([&] { cross_entropy_forward(x, y, Tensor(), opt); });
    EXPECT_TRUE(contains(msg, "lamina.cross_entropy: target label " + std::to_string(bad) +
                                  " is out of range for 10 classes"))
        << msg;
    const std::string msg2 = expect_throw_msg<IndexError>([&] { nll_loss_forward(x, y, Tensor(), opt); });
    EXPECT_TRUE(contains(msg2, "lamina.nll_loss: target label")) << msg2;
  }
  const std::string msg = expect_throw_msg<ValueError>([&] {
    cross_entropy_forward(x, from_vec<int64_t>({2}, {0, 1}), Tensor(), ClassLossOptions{-100, LossReduction::Mean, 1.5});
  });
  EXPECT_TRUE(contains(msg, "label_smoothing must be between 0.0 and 1.0")) << msg;
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>([] { parse_reduction("avg", "cross_entropy"); }),
                       "'avg' is not a valid value for reduction"));
}

}  // namespace
}  // namespace lamina
