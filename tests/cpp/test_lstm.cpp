// lstm_forward / lstm_backward / the cell / rnn_pack / rnn_unpack against naive loops in double:
// float32 and float64, bias or not, reverse, batch_sizes (packed layout), hidden 1, one step,
// thread-count independence, bad input. Also the prepacked-B GEMM the recurrence runs on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "ops/lstm.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_vec;
using test::to_vec;

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// One layer, one direction, plain loops in double. Shapes as in ops/lstm.h.
struct RefLstm {
  int64_t T, B, I, H;
  std::vector<double> x, h0, c0, wi, wh, b;  // b: b_ih + b_hh (empty: none)
  std::vector<int64_t> bs;
  bool reverse;
  // forward results
  std::vector<double> y, hn, cn;
  // gradients
  std::vector<double> dx, dh0, dc0, dwi, dwh, db;

  int64_t active(int64_t t) const { return bs.empty() ? B : bs[t]; }

  // Per step and row: the gates (i, f, g, o), the c and h before the step.
  struct Saved {
    double i, f, g, o, c, cp;
  };
  std::vector<Saved> saved;        // [T][B][H]
  std::vector<double> hprev;       // [T][B][H]

  void forward() {
    y.assign(T * B * H, 0.0);
    saved.assign(T * B * H, Saved{});
    hprev.assign(T * B * H, 0.0);
    std::vector<double> h = h0, c = c0;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      for (int64_t r = 0; r < active(t); ++r) {
        std::vector<double> pre(4 * H);
        for (int64_t k = 0; k < 4 * H; ++k) {
          double acc = b.empty() ? 0.0 : b[k];
          for (int64_t q = 0; q < I; ++q) acc += wi[k * I + q] * x[(t * B + r) * I + q];
          for (int64_t q = 0; q < H; ++q) acc += wh[k * H + q] * h[r * H + q];
          pre[k] = acc;
        }
        for (int64_t j = 0; j < H; ++j) hprev[(t * B + r) * H + j] = h[r * H + j];
        for (int64_t j = 0; j < H; ++j) {
          Saved& sv = saved[(t * B + r) * H + j];
          sv.i = sig(pre[j]);
          sv.f = sig(pre[H + j]);
          sv.g = std::tanh(pre[2 * H + j]);
          sv.o = sig(pre[3 * H + j]);
          sv.cp = c[r * H + j];
          sv.c = sv.f * sv.cp + sv.i * sv.g;
          c[r * H + j] = sv.c;
          h[r * H + j] = sv.o * std::tanh(sv.c);
          y[(t * B + r) * H + j] = h[r * H + j];
        }
      }
    }
    hn = h;
    cn = c;
  }

  void backward(const std::vector<double>& gy, const std::vector<double>& ghn, const std::vector<double>& gcn) {
    dx.assign(T * B * I, 0.0);
    dwi.assign(4 * H * I, 0.0);
    dwh.assign(4 * H * H, 0.0);
    db.assign(4 * H, 0.0);
    std::vector<double> dh = ghn, dc = gcn;
    for (int64_t s = T - 1; s >= 0; --s) {
      const int64_t t = reverse ? T - 1 - s : s;
      for (int64_t r = 0; r < active(t); ++r) {
        std::vector<double> dg(4 * H);
        for (int64_t j = 0; j < H; ++j) {
          const Saved& sv = saved[(t * B + r) * H + j];
          const double tc = std::tanh(sv.c);
          const double dhv = dh[r * H + j] + gy[(t * B + r) * H + j];
          const double dcv = dc[r * H + j] + dhv * sv.o * (1 - tc * tc);
          dg[j] = dcv * sv.g * sv.i * (1 - sv.i);
          dg[H + j] = dcv * sv.cp * sv.f * (1 - sv.f);
          dg[2 * H + j] = dcv * sv.i * (1 - sv.g * sv.g);
          dg[3 * H + j] = dhv * tc * sv.o * (1 - sv.o);
          dc[r * H + j] = dcv * sv.f;
        }
        for (int64_t q = 0; q < H; ++q) {
          double acc = 0.0;
          for (int64_t k = 0; k < 4 * H; ++k) acc += dg[k] * wh[k * H + q];
          dh[r * H + q] = acc;
        }
        for (int64_t k = 0; k < 4 * H; ++k) {
          db[k] += dg[k];
          for (int64_t q = 0; q < I; ++q) {
            dwi[k * I + q] += dg[k] * x[(t * B + r) * I + q];
            dx[(t * B + r) * I + q] += dg[k] * wi[k * I + q];
          }
          for (int64_t q = 0; q < H; ++q) dwh[k * H + q] += dg[k] * hprev[(t * B + r) * H + q];
        }
      }
    }
    dh0 = dh;
    dc0 = dc;
  }
};

template <typename T>
std::vector<double> as_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
void expect_close(const Tensor& got, const std::vector<double>& want, double rtol, double atol, const char* what) {
  const auto v = to_vec<T>(got);
  ASSERT_EQ(v.size(), want.size()) << what;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_TRUE(close(v[i], want[i], rtol, atol)) << what << " at " << i;
}

struct Case {
  int64_t T, B, I, H;
  bool bias, reverse;
  std::vector<int64_t> bs;
};

template <typename T>
void run_case(const Case& c, std::mt19937& rng) {
  const int64_t G = 4 * c.H;
  auto xv = random_vec<T>(c.T * c.B * c.I, rng, -1, 1), h0 = random_vec<T>(c.B * c.H, rng, -1, 1),
       c0 = random_vec<T>(c.B * c.H, rng, -1, 1), wi = random_vec<T>(G * c.I, rng, -0.6, 0.6),
       wh = random_vec<T>(G * c.H, rng, -0.6, 0.6), bi = random_vec<T>(G, rng, -0.5, 0.5),
       bh = random_vec<T>(G, rng, -0.5, 0.5), gy = random_vec<T>(c.T * c.B * c.H, rng, -1, 1),
       ghn = random_vec<T>(c.B * c.H, rng, -1, 1), gcn = random_vec<T>(c.B * c.H, rng, -1, 1);
  RefLstm ref{c.T, c.B, c.I, c.H, as_double(xv), as_double(h0), as_double(c0), as_double(wi), as_double(wh), {},
              c.bs, c.reverse};
  if (c.bias)
    for (int64_t k = 0; k < G; ++k) ref.b.push_back(static_cast<double>(bi[k]) + bh[k]);
  ref.forward();
  // Inactive positions take no gradient from the output (it is constant 0 there).
  std::vector<double> gyd = as_double(gy);
  for (int64_t t = 0; t < c.T; ++t)
    for (int64_t r = ref.active(t); r < c.B; ++r)
      for (int64_t j = 0; j < c.H; ++j) gyd[(t * c.B + r) * c.H + j] = 0.0;
  ref.backward(gyd, as_double(ghn), as_double(gcn));

  const Tensor x = from_vec<T>({c.T, c.B, c.I}, xv), hx = from_vec<T>({c.B, c.H}, h0),
               cx = from_vec<T>({c.B, c.H}, c0), w_ih = from_vec<T>({G, c.I}, wi), w_hh = from_vec<T>({G, c.H}, wh);
  const Tensor b_ih = c.bias ? from_vec<T>({G}, bi) : Tensor(), b_hh = c.bias ? from_vec<T>({G}, bh) : Tensor();
  const double rtol = std::is_same_v<T, float> ? 2e-4 : 1e-10, atol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  for (int threads : {1, 2}) {
    test::ThreadGuard guard(threads);
    const LstmForward f = lstm_forward(x, hx, cx, w_ih, w_hh, b_ih, b_hh, c.bs, c.reverse);
    expect_close<T>(f.output, ref.y, rtol, atol, "output");
    expect_close<T>(f.h_n, ref.hn, rtol, atol, "h_n");
    expect_close<T>(f.c_n, ref.cn, rtol, atol, "c_n");
    const LstmGrads g = lstm_backward(from_vec<T>({c.T, c.B, c.H}, gy), from_vec<T>({c.B, c.H}, ghn),
                                      from_vec<T>({c.B, c.H}, gcn), x, hx, cx, w_ih, w_hh, f.output, f.gates,
                                      f.cells, c.bs, c.reverse, LstmNeeds{});
    expect_close<T>(g.grad_input, ref.dx, rtol, atol, "grad_input");
    expect_close<T>(g.grad_hx, ref.dh0, rtol, atol, "grad_hx");
    expect_close<T>(g.grad_cx, ref.dc0, rtol, atol, "grad_cx");
    expect_close<T>(g.grad_w_ih, ref.dwi, rtol, atol, "grad_w_ih");
    expect_close<T>(g.grad_w_hh, ref.dwh, rtol, atol, "grad_w_hh");
    expect_close<T>(g.grad_bias, ref.db, rtol, atol, "grad_bias");
  }
}

const std::vector<Case> kCases = {
    {1, 3, 5, 1, true, false, {}},          {4, 2, 3, 7, false, false, {}},
    {5, 3, 4, 5, true, true, {}},           {6, 4, 3, 6, true, false, {4, 3, 3, 2, 1, 1}},
    {6, 4, 3, 6, true, true, {4, 3, 3, 2, 1, 1}}, {5, 5, 2, 3, false, true, {3, 3, 2, 2, 1}},
    {3, 1, 1, 2, true, false, {}},          {9, 7, 13, 33, true, true, {7, 7, 6, 4, 4, 3, 2, 1, 1}},
};

TEST(LstmKernel, MatchesNaiveLoopsFloat32) {
  std::mt19937 rng(11);
  for (const Case& c : kCases) run_case<float>(c, rng);
}

TEST(LstmKernel, MatchesNaiveLoopsFloat64) {
  std::mt19937 rng(12);
  for (const Case& c : kCases) run_case<double>(c, rng);
}

TEST(LstmKernel, CellIsOneStep) {
  std::mt19937 rng(13);
  const int64_t B = 3, I = 4, H = 5, G = 4 * H;
  const Tensor x = test::random_tensor<double>({B, I}, rng), hx = test::random_tensor<double>({B, H}, rng),
               cx = test::random_tensor<double>({B, H}, rng), wi = test::random_tensor<double>({G, I}, rng),
               wh = test::random_tensor<double>({G, H}, rng), bi = test::random_tensor<double>({G}, rng);
  const LstmForward cell = lstm_cell_forward(x, hx, cx, wi, wh, bi, Tensor());
  const LstmForward seq = lstm_forward(x.unsqueeze(0), hx, cx, wi, wh, bi, Tensor(), {}, false);
  EXPECT_EQ(to_vec<double>(cell.h_n), to_vec<double>(seq.h_n));
  EXPECT_EQ(to_vec<double>(cell.c_n), to_vec<double>(seq.c_n));
  const Tensor gh = test::random_tensor<double>({B, H}, rng);
  const LstmGrads g = lstm_cell_backward(gh, Tensor(), x, hx, cx, wi, wh, cell.gates, cell.cells, LstmNeeds{});
  EXPECT_EQ(g.grad_input.sizes(), (Shape{B, I}));
  const LstmGrads gs = lstm_backward(Tensor(), gh, Tensor(), x.unsqueeze(0), hx, cx, wi, wh, seq.output, seq.gates,
                                     seq.cells, {}, false, LstmNeeds{});
  EXPECT_EQ(to_vec<double>(g.grad_w_hh), to_vec<double>(gs.grad_w_hh));
  EXPECT_EQ(to_vec<double>(g.grad_hx), to_vec<double>(gs.grad_hx));
}

TEST(LstmKernel, ThreadCountDoesNotChangeResults) {
  std::mt19937 rng(14);
  const int64_t T = 7, B = 19, I = 21, H = 70, G = 4 * H;
  const Tensor x = test::random_tensor<float>({T, B, I}, rng), hx = test::random_tensor<float>({B, H}, rng),
               cx = test::random_tensor<float>({B, H}, rng), wi = test::random_tensor<float>({G, I}, rng, -.2, .2),
               wh = test::random_tensor<float>({G, H}, rng, -.2, .2), gy = test::random_tensor<float>({T, B, H}, rng);
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2}) {
    test::ThreadGuard guard(threads);
    const LstmForward f = lstm_forward(x, hx, cx, wi, wh, Tensor(), Tensor(), {}, true);
    const LstmGrads g = lstm_backward(gy, Tensor(), Tensor(), x, hx, cx, wi, wh, f.output, f.gates, f.cells, {},
                                      true, LstmNeeds{});
    std::vector<float> all = to_vec<float>(f.output);
    for (const Tensor* t : {&g.grad_input, &g.grad_w_hh, &g.grad_bias}) {
      const auto v = to_vec<float>(*t);
      all.insert(all.end(), v.begin(), v.end());
    }
    outs.push_back(all);
  }
  EXPECT_EQ(outs[0], outs[1]);
}

TEST(LstmKernel, EmptySequence) {
  const Tensor x = Tensor::empty({0, 2, 3}, DType::Float32);
  std::mt19937 rng(15);
  const Tensor hx = test::random_tensor<float>({2, 4}, rng), cx = test::random_tensor<float>({2, 4}, rng);
  const LstmForward f = lstm_forward(x, hx, cx, test::random_tensor<float>({16, 3}, rng),
                                     test::random_tensor<float>({16, 4}, rng), Tensor(), Tensor(), {}, false);
  EXPECT_EQ(f.output.sizes(), (Shape{0, 2, 4}));
  EXPECT_EQ(to_vec<float>(f.h_n), to_vec<float>(hx));
  EXPECT_EQ(to_vec<float>(f.c_n), to_vec<float>(cx));
}

TEST(LstmKernel, BadInput) {
  std::mt19937 rng(16);
  const Tensor x = test::random_tensor<float>({3, 2, 4}, rng), hx = test::random_tensor<float>({2, 5}, rng),
               wi = test::random_tensor<float>({20, 4}, rng), wh = test::random_tensor<float>({20, 5}, rng);
  auto msg = expect_throw_msg<ValueError>([&] {
    lstm_forward(x, hx, hx, test::random_tensor<float>({20, 3}, rng), wh, Tensor(), Tensor(), {}, false);
  });
  EXPECT_TRUE(contains(msg, "lamina.lstm: argument 'w_ih' must have shape [20, 4]")) << msg;
  EXPECT_TRUE(contains(msg, "got [20, 3]")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    lstm_forward(x, hx, test::random_tensor<float>({2, 6}, rng), wi, wh, Tensor(), Tensor(), {}, false);
  });
  EXPECT_TRUE(contains(msg, "argument 'cx' must have shape [2, 5]")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    lstm_forward(x, hx, hx, wi, wh, Tensor(), Tensor(), {2, 2, 3}, false);
  });
  EXPECT_TRUE(contains(msg, "outside [0, 2]")) << msg;
  msg = expect_throw_msg<ValueError>([&] { lstm_forward(x, hx, hx, wi, wh, Tensor(), Tensor(), {1, 2, 1}, false); });
  EXPECT_TRUE(contains(msg, "non-increasing")) << msg;
  msg = expect_throw_msg<ValueError>([&] { lstm_forward(x, hx, hx, wi, wh, Tensor(), Tensor(), {2, 1}, false); });
  EXPECT_TRUE(contains(msg, "batch_sizes has 2 entries but input has 3 steps")) << msg;
  msg = expect_throw_msg<TypeError>([&] {
    lstm_forward(x, hx, hx, test::random_tensor<double>({20, 4}, rng), wh, Tensor(), Tensor(), {}, false);
  });
  EXPECT_TRUE(contains(msg, "same dtype")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    lstm_forward(x.select(0, 0), hx, hx, wi, wh, Tensor(), Tensor(), {}, false);
  });
  EXPECT_TRUE(contains(msg, "must be 3-D")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    lstm_backward(test::random_tensor<float>({3, 2, 6}, rng), Tensor(), Tensor(), x, hx, hx, wi, wh,
                  test::random_tensor<float>({3, 2, 5}, rng), test::random_tensor<float>({3, 2, 20}, rng),
                  test::random_tensor<float>({3, 2, 5}, rng), {}, false, LstmNeeds{});
  });
  EXPECT_TRUE(contains(msg, "argument 'grad_output' must have shape [3, 2, 5]")) << msg;
}

TEST(LstmPacking, PackUnpackRoundTripAndAdjoint) {
  std::mt19937 rng(17);
  const int64_t T = 5, B = 4, F = 3;
  const std::vector<int64_t> bs = {4, 3, 3, 1}, index = {2, 0, 3, 1};
  const Tensor padded = test::random_tensor<float>({T, B, F}, rng);
  const Tensor packed = rnn_pack(padded, bs, index);
  ASSERT_EQ(packed.sizes(), (Shape{11, F}));
  const auto pv = to_vec<float>(packed), xv = to_vec<float>(padded);
  int64_t k = 0;
  for (size_t t = 0; t < bs.size(); ++t)
    for (int64_t j = 0; j < bs[t]; ++j, ++k)
      for (int64_t f = 0; f < F; ++f) EXPECT_EQ(pv[k * F + f], xv[(t * B + index[j]) * F + f]);
  const Tensor back = rnn_unpack(packed, bs, index, B, T, -7.0);
  const auto bv = to_vec<float>(back);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b) {
      bool valid = false;
      for (int64_t j = 0; t < static_cast<int64_t>(bs.size()) && j < bs[t]; ++j) valid |= index[j] == b;
      for (int64_t f = 0; f < F; ++f)
        EXPECT_EQ(bv[(t * B + b) * F + f], valid ? xv[(t * B + b) * F + f] : -7.0f);
    }
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>([&] { rnn_pack(padded, {4, 3, 3, 1}, {0, 0, 1, 2}); }),
                       "permutation"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>([&] { rnn_unpack(packed, {4, 3, 3, 2}, {}, B, T, 0.0); }),
                       "batch_sizes sum to 12"));
}

// The prepacked-B GEMM against the reference loops, over shapes crossing the cache blocks.
TEST(PackedGemm, MatchesReference) {
  std::mt19937 rng(18);
  struct S {
    int64_t M, N, K;
  };
  for (S s : {S{1, 1, 1}, S{7, 33, 5}, S{32, 1024, 256}, S{64, 512, 2048}, S{13, 4100, 300}, S{300, 50, 70}}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 1.0f}) {
          const auto a = random_vec<float>(s.M * s.K, rng, -1, 1), b = random_vec<float>(s.K * s.N, rng, -1, 1);
          const auto c0 = random_vec<float>(s.M * s.N, rng, -1, 1);
          const int64_t lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N;
          std::vector<float> want = c0;
          cpu::sgemm_reference(ta, tb, s.M, s.N, s.K, 0.5f, a.data(), lda, b.data(), ldb, beta, want.data(), s.N);
          const cpu::PackedB pb = cpu::sgemm_pack_b(tb, s.K, s.N, b.data(), ldb);
          for (int threads : {1, 2}) {
            test::ThreadGuard guard(threads);
            std::vector<float> got = c0;
            cpu::sgemm_packed_b(ta, s.M, 0.5f, a.data(), lda, pb, beta, got.data(), s.N);
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_TRUE(close(got[i], want[i], 1e-4, 1e-4))
                  << "M=" << s.M << " N=" << s.N << " K=" << s.K << " ta=" << ta << " tb=" << tb << " at " << i;
            std::vector<float> plain = c0;
            cpu::sgemm(ta, tb, s.M, s.N, s.K, 0.5f, a.data(), lda, b.data(), ldb, beta, plain.data(), s.N);
            EXPECT_EQ(got, plain) << "packed and plain sgemm sum in the same order";
          }
        }
  }
  // A packed ahead in two column ranges (as two threads do), then the product without packing.
  for (S s : {S{32, 1024, 256}, S{7, 33, 600}, S{200, 70, 300}, S{7, 33, 1300}}) {
    const auto a = random_vec<float>(s.M * s.K, rng, -1, 1), b = random_vec<float>(s.K * s.N, rng, -1, 1);
    std::vector<float> want(s.M * s.N, 0.0f), got(s.M * s.N, 3.0f);
    cpu::sgemm(false, true, s.M, s.N, s.K, 1.0f, a.data(), s.K, b.data(), s.K, 0.0f, want.data(), s.N);
    const cpu::PackedB pb = cpu::sgemm_pack_b(true, s.K, s.N, b.data(), s.K);
    std::vector<char> mem(cpu::gemm_packed_a_bytes(s.M + 5, pb) + 64);
    char* p = mem.data() + (64 - reinterpret_cast<uintptr_t>(mem.data()) % 64) % 64;
    const cpu::PackedA pa = cpu::gemm_packed_a(p, s.M, pb);
    const int64_t split = s.K / 3 + 1;
    cpu::gemm_pack_a_cols(false, a.data(), s.K, split, s.K, pa);
    cpu::gemm_pack_a_cols(false, a.data(), s.K, 0, split, pa);
    cpu::sgemm_packed_ab(1.0f, pa, pb, 0.0f, got.data(), s.N);
    EXPECT_EQ(got, want) << "M=" << s.M << " N=" << s.N << " K=" << s.K;
  }
  // double
  const int64_t M = 9, N = 70, K = 300;
  const auto a = random_vec<double>(M * K, rng, -1, 1), b = random_vec<double>(K * N, rng, -1, 1);
  std::vector<double> want(M * N, 0.0), got(M * N, 1.0);
  cpu::dgemm_reference(false, true, M, N, K, 1.0, a.data(), K, b.data(), K, 0.0, want.data(), N);
  cpu::dgemm_packed_b(false, M, 1.0, a.data(), K, cpu::dgemm_pack_b(true, K, N, b.data(), K), 0.0, got.data(), N);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_TRUE(close(got[i], want[i], 1e-12, 1e-12)) << i;
}

}  // namespace
}  // namespace lamina
