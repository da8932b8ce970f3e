// rnn_forward / rnn_backward (GRU, tanh RNN, relu RNN) against naive per-element loops in double:
// float32 and float64, with and without biases, forward and reverse, full and variable-length
// batches, hidden size 1 and one step, thread-count independence, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/rnn.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::random_vec;
using test::from_vec;
using test::to_vec;

using Vec = std::vector<double>;

struct Problem {
  RnnMode mode;
  int64_t T, B, I, H;
  bool bias;
  bool reverse;
  std::vector<int64_t> bs;  // empty: full batch
  Vec x, h0, wih, whh, bih, bhh, gy, ghn;
};

struct Ref {
  Vec y, hn, gx, gh0, gwih, gwhh, gbih, gbhh;
};

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Naive forward and backward through time, one row and one element at a time.
Ref reference(const Problem& p) {
  const int64_t T = p.T, B = p.B, I = p.I, H = p.H, G = rnn_gates(p.mode), GH = G * H;
  auto active = [&](int64_t t, int64_t b) { return p.bs.empty() || b < p.bs[t]; };
  Ref r;
  r.y.assign(T * B * H, 0.0);
  r.hn = p.h0;
  // Per step and row: the state before it, and the gates' inputs.
  std::vector<Vec> hprev(T * B), xg(T * B), hg(T * B);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = p.reverse ? T - 1 - s : s;
    for (int64_t b = 0; b < B; ++b) {
      if (!active(t, b)) continue;
      Vec h(r.hn.begin() + b * H, r.hn.begin() + (b + 1) * H);
      Vec a(GH), c(GH);
      for (int64_t g = 0; g < GH; ++g) {
        a[g] = p.bias ? p.bih[g] : 0.0;
        for (int64_t i = 0; i < I; ++i) a[g] += p.wih[g * I + i] * p.x[(t * B + b) * I + i];
        c[g] = p.bias ? p.bhh[g] : 0.0;
        for (int64_t k = 0; k < H; ++k) c[g] += p.whh[g * H + k] * h[k];
      }
      hprev[t * B + b] = h;
      xg[t * B + b] = a;
      hg[t * B + b] = c;
      for (int64_t j = 0; j < H; ++j) {
        double hv;
        if (p.mode == RnnMode::Gru) {
          const double rr = sig(a[j] + c[j]), z = sig(a[H + j] + c[H + j]);
          const double n = std::tanh(a[2 * H + j] + rr * c[2 * H + j]);
          hv = (1 - z) * n + z * h[j];
        } else {
          const double v = a[j] + c[j];
          hv = p.mode == RnnMode::Tanh ? std::tanh(v) : std::max(v, 0.0);
        }
        r.y[(t * B + b) * H + j] = hv;
        r.hn[b * H + j] = hv;
      }
    }
  }
  r.gx.assign(T * B * I, 0.0);
  r.gwih.assign(GH * I, 0.0);
  r.gwhh.assign(GH * H, 0.0);
  r.gbih.assign(GH, 0.0);
  r.gbhh.assign(GH, 0.0);
  Vec dh = p.ghn;
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = p.reverse ? T - 1 - s : s;
    for (int64_t b = 0; b < B; ++b) {
      if (!active(t, b)) continue;
      const Vec& h = hprev[t * B + b];
      const Vec& a = xg[t * B + b];
      const Vec& c = hg[t * B + b];
      Vec da(GH, 0.0), dc(GH, 0.0), dhp(H, 0.0);
      for (int64_t j = 0; j < H; ++j) {
        const double g = dh[b * H + j] + p.gy[(t * B + b) * H + j];
        if (p.mode == RnnMode::Gru) {
          const double rr = sig(a[j] + c[j]), z = sig(a[H + j] + c[H + j]);
          const double n = std::tanh(a[2 * H + j] + rr * c[2 * H + j]);
          const double dn = g * (1 - z) * (1 - n * n);
          const double dz = g * (h[j] - n) * z * (1 - z);
          const double dr = dn * c[2 * H + j] * rr * (1 - rr);
          da[j] = dr, da[H + j] = dz, da[2 * H + j] = dn;
          dc[j] = dr, dc[H + j] = dz, dc[2 * H + j] = dn * rr;
          dhp[j] += g * z;
        } else {
          const double v = a[j] + c[j];
          const double d = p.mode == RnnMode::Tanh ? g * (1 - std::tanh(v) * std::tanh(v)) : (v > 0 ? g : 0.0);
          da[j] = d, dc[j] = d;
        }
      }
      for (int64_t gi = 0; gi < GH; ++gi) {
        r.gbih[gi] += da[gi];
        r.gbhh[gi] += dc[gi];
        for (int64_t i = 0; i < I; ++i) {
          r.gx[(t * B + b) * I + i] += da[gi] * p.wih[gi * I + i];
          r.gwih[gi * I + i] += da[gi] * p.x[(t * B + b) * I + i];
        }
        for (int64_t k = 0; k < H; ++k) {
          dhp[k] += dc[gi] * p.whh[gi * H + k];
          r.gwhh[gi * H + k] += dc[gi] * h[k];
        }
      }
      for (int64_t k = 0; k < H; ++k) dh[b * H + k] = dhp[k];
    }
  }
  r.gh0 = dh;
  return r;
}

Problem make_problem(RnnMode mode, int64_t T, int64_t B, int64_t I, int64_t H, bool bias, bool reverse,
                     std::vector<int64_t> bs, std::mt19937& rng) {
  const int64_t GH = rnn_gates(mode) * H;
  const double s = 1.0 / std::sqrt(static_cast<double>(H));
  Problem p{mode, T, B, I, H, bias, reverse, std::move(bs), {}, {}, {}, {}, {}, {}, {}, {}};
  p.x = random_vec<double>(T * B * I, rng);
  p.h0 = random_vec<double>(B * H, rng, -1, 1);
  p.wih = random_vec<double>(GH * I, rng, -s, s);
  p.whh = random_vec<double>(GH * H, rng, -s, s);
  p.bih = random_vec<double>(GH, rng, -s, s);
  p.bhh = random_vec<double>(GH, rng, -s, s);
  p.gy = random_vec<double>(T * B * H, rng);
  p.ghn = random_vec<double>(B * H, rng);
  return p;
}

template <typename T>
Tensor make(const Shape& sizes, const Vec& v) {
  return from_vec<T>(sizes, std::vector<T>(v.begin(), v.end()));
}

template <typename T>
void expect_close(const Tensor& got, const Vec& want, double rtol, double atol, const char* what) {
  ASSERT_TRUE(got.defined()) << what;
  const auto v = to_vec<T>(got);
  ASSERT_EQ(v.size(), want.size()) << what;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_TRUE(close(v[i], want[i], rtol, atol)) << what << " at " << i;
}

template <typename T>
void run(const Problem& p) {
  const double rtol = std::is_same_v<T, float> ? 2e-5 : 1e-11, atol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  const int64_t GH = rnn_gates(p.mode) * p.H;
  const Tensor x = make<T>({p.T, p.B, p.I}, p.x), h0 = make<T>({p.B, p.H}, p.h0);
  const Tensor wih = make<T>({GH, p.I}, p.wih), whh = make<T>({GH, p.H}, p.whh);
  const Tensor bih = p.bias ? make<T>({GH}, p.bih) : Tensor(), bhh = p.bias ? make<T>({GH}, p.bhh) : Tensor();
  const Ref r = reference(p);
  const RnnForwardResult f = rnn_forward(p.mode, x, h0, wih, whh, bih, bhh, p.bs, p.reverse);
  expect_close<T>(f.output, r.y, rtol, atol, "output");
  expect_close<T>(f.h_n, r.hn, rtol, atol, "h_n");
  const RnnGrads g = rnn_backward(p.mode, make<T>({p.T, p.B, p.H}, p.gy), make<T>({p.B, p.H}, p.ghn), x, h0,
                                  wih, whh, f.output, f.workspace, p.bs, p.reverse, p.bias, true, true, true);
  expect_close<T>(g.grad_input, r.gx, rtol, atol, "grad_input");
  expect_close<T>(g.grad_hx, r.gh0, rtol, atol, "grad_hx");
  expect_close<T>(g.grad_w_ih, r.gwih, rtol, atol, "grad_w_ih");
  expect_close<T>(g.grad_w_hh, r.gwhh, rtol, atol, "grad_w_hh");
  if (p.bias) {
    expect_close<T>(g.grad_b_ih, r.gbih, rtol, atol, "grad_b_ih");
    expect_close<T>(g.grad_b_hh, r.gbhh, rtol, atol, "grad_b_hh");
  } else {
    EXPECT_FALSE(g.grad_b_ih.defined());
  }
}

struct Case {
  int64_t T, B, I, H;
  std::vector<int64_t> bs;
};

const std::vector<Case> kCases = {
    {5, 3, 4, 6, {}}, {1, 2, 3, 1, {}}, {7, 4, 5, 3, {4, 3, 3, 3, 3, 1, 1}}, {3, 1, 1, 2, {}},
    {6, 5, 2, 33, {5, 5, 4, 2, 2, 1}}, {4, 3, 0, 2, {}}, {4, 3, 2, 2, {3, 0, 0, 0}}};

TEST(Rnn, MatchesNaiveLoops) {
  std::mt19937 rng(42);
  for (RnnMode mode : {RnnMode::Gru, RnnMode::Tanh, RnnMode::Relu})
    for (const Case& c : kCases)
      for (bool bias : {true, false})
        for (bool reverse : {false, true}) {
          SCOPED_TRACE(::testing::Message() << rnn_mode_name(mode) << " T=" << c.T << " B=" << c.B << " I="
                                            << c.I << " H=" << c.H << " bs=" << test::str(c.bs)
                                            << " bias=" << bias << " reverse=" << reverse);
          const Problem p = make_problem(mode, c.T, c.B, c.I, c.H, bias, reverse, c.bs, rng);
          run<float>(p);
          run<double>(p);
        }
}

TEST(Rnn, LargeSizesAndThreadCountIndependence) {
  std::mt19937 rng(7);
  const Problem p = make_problem(RnnMode::Gru, 6, 37, 19, 70, true, false, {}, rng);
  run<float>(p);
  const int64_t GH = 3 * p.H;
  auto go = [&](int threads) {
    test::ThreadGuard guard(threads);
    const RnnForwardResult f = rnn_forward(p.mode, make<float>({p.T, p.B, p.I}, p.x), make<float>({p.B, p.H}, p.h0),
                                           make<float>({GH, p.I}, p.wih), make<float>({GH, p.H}, p.whh),
                                           make<float>({GH}, p.bih), make<float>({GH}, p.bhh), {}, false);
    return to_vec<float>(f.output);
  };
  EXPECT_EQ(go(1), go(2));
}

TEST(Rnn, NonContiguousOperands) {
  std::mt19937 rng(3);
  const Problem p = make_problem(RnnMode::Tanh, 4, 3, 5, 4, true, true, {}, rng);
  const Ref r = reference(p);
  // input given as a transposed view of a [B, T, I] tensor, w_ih as a transposed view.
  Vec xbt(p.T * p.B * p.I), wt(p.I * p.H);
  for (int64_t t = 0; t < p.T; ++t)
    for (int64_t b = 0; b < p.B; ++b)
      for (int64_t i = 0; i < p.I; ++i) xbt[(b * p.T + t) * p.I + i] = p.x[(t * p.B + b) * p.I + i];
  for (int64_t h = 0; h < p.H; ++h)
    for (int64_t i = 0; i < p.I; ++i) wt[i * p.H + h] = p.wih[h * p.I + i];
  const Tensor x = make<double>({p.B, p.T, p.I}, xbt).transpose(0, 1);
  const Tensor wih = make<double>({p.I, p.H}, wt).transpose(0, 1);
  const RnnForwardResult f = rnn_forward(p.mode, x, make<double>({p.B, p.H}, p.h0), wih,
                                         make<double>({p.H, p.H}, p.whh), make<double>({p.H}, p.bih),
                                         make<double>({p.H}, p.bhh), {}, true);
  expect_close<double>(f.output, r.y, 1e-12, 1e-12, "output");
}

TEST(Rnn, BadInput) {
  auto t = [](const Shape& s) { return Tensor::empty(s, DType::Float32); };
  const Tensor x = t({3, 2, 4}), h = t({2, 5}), wih = t({15, 4}), whh = t({15, 5});
  auto fwd = [&](const Tensor& xx, const Tensor& hh, const Tensor& a, const Tensor& b,
                 std::vector<int64_t> bs = {}) {
    return [=] { rnn_forward(RnnMode::Gru, xx, hh, a, b, Tensor(), Tensor(), bs, false); };
  };
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(t({3, 2, 7}), h, wih, whh)), "lamina.gru: argument 'w_ih'"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(x, t({2, 6}), wih, whh)), "argument 'hx' must have shape [2, 5]"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(x, h, wih, t({15, 4}))), "argument 'w_hh'"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(t({2, 4}), h, wih, whh)), "must be 3-D"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(x, h, wih, whh, {1, 2, 2})), "non-increasing"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(x, h, wih, whh, {2, 2})), "batch_sizes has 2 entries"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(x, h, wih, whh, {3, 2, 1})), "outside [0, 2]"));
  EXPECT_TRUE(contains(expect_throw_msg<TypeError>(fwd(x, Tensor::empty({2, 5}, DType::Float64), wih, whh)),
                       "same dtype"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>(fwd(x, Tensor(), wih, whh)), "'hx' is an undefined tensor"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>([&] {
                         rnn_forward(RnnMode::Tanh, x, h, t({5, 4}), t({5, 5}), t({5}), Tensor(), {}, false);
                       }),
                       "both be given"));
}

}  // namespace
}  // namespace lamina
