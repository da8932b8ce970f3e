// conv2d forward and backward against naive loops (7 nested loops for the forward), in float32
// and float64, on 1 and 2 threads, over configurations that reach every path of the kernel:
// column tiles spanning several samples (small outputs), tiles cutting one sample's positions
// (large outputs with many channels), 1x1 convolutions without a column matrix, groups,
// dilation, strides, asymmetric padding, unbatched input, batch split across threads or not.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "ops/conv.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::random_tensor;
using test::str;
using test::ThreadGuard;

struct Config {
  int64_t N, C, H, W, O, KH, KW;
  int64_t sh, sw, pt, pb, pl, pr, dh, dw, G;
  bool bias;
};

std::string name(const Config& c) {
  return test::str({c.N, c.C, c.H, c.W}) + " w" + str({c.O, c.C / c.G, c.KH, c.KW}) + " s" + str({c.sh, c.sw}) +
         " p" + str({c.pt, c.pb, c.pl, c.pr}) + " d" + str({c.dh, c.dw}) + " g" + std::to_string(c.G);
}

int64_t out_size(int64_t in, int64_t lo, int64_t hi, int64_t d, int64_t k, int64_t s) {
  return (in + lo + hi - d * (k - 1) - 1) / s + 1;
}

// The reference: for each output element, the plain sum over its window (in double).
template <typename T>
std::vector<double> naive_forward(const Config& c, const std::vector<T>& x, const std::vector<T>& w,
                                  const std::vector<T>& b) {
  const int64_t OH = out_size(c.H, c.pt, c.pb, c.dh, c.KH, c.sh), OW = out_size(c.W, c.pl, c.pr, c.dw, c.KW, c.sw);
  const int64_t Cg = c.C / c.G, Og = c.O / c.G;
  std::vector<double> y(static_cast<size_t>(c.N * c.O * OH * OW));
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = c.bias ? double(b[o]) : 0.0;
          const int64_t g = o / Og;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ki = 0; ki < c.KH; ++ki)
              for (int64_t kj = 0; kj < c.KW; ++kj) {
                const int64_t ih = oh * c.sh - c.pt + ki * c.dh, iw = ow * c.sw - c.pl + kj * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t cin = g * Cg + ci;
                acc += double(x[((n * c.C + cin) * c.H + ih) * c.W + iw]) *
                       double(w[((o * Cg + ci) * c.KH + ki) * c.KW + kj]);
              }
          y[((n * c.O + o) * OH + oh) * OW + ow] = acc;
        }
  return y;
}

// The adjoint loops: every (output, window element) pair adds its product into the gradients.
template <typename T>
void naive_backward(const Config& c, const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& dy,
                    std::vector<double>& dx, std::vector<double>& dw, std::vector<double>& db) {
  const int64_t OH = out_size(c.H, c.pt, c.pb, c.dh, c.KH, c.sh), OW = out_size(c.W, c.pl, c.pr, c.dw, c.KW, c.sw);
  const int64_t Cg = c.C / c.G, Og = c.O / c.G;
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  db.assign(static_cast<size_t>(c.O), 0.0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const double g_out = dy[((n * c.O + o) * OH + oh) * OW + ow];
          db[o] += g_out;
          const int64_t g = o / Og;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ki = 0; ki < c.KH; ++ki)
              for (int64_t kj = 0; kj < c.KW; ++kj) {
                const int64_t ih = oh * c.sh - c.pt + ki * c.dh, iw = ow * c.sw - c.pl + kj * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t xi = ((n * c.C + g * Cg + ci) * c.H + ih) * c.W + iw;
                const int64_t wi = ((o * Cg + ci) * c.KH + ki) * c.KW + kj;
                dx[xi] += g_out * double(w[wi]);
                dw[wi] += g_out * double(x[xi]);
              }
        }
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

template <typename T>
void expect_close(const Tensor& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  const std::vector<T> g = values<T>(got);
  int bad = 0;
  for (size_t i = 0; i < want.size() && bad < 5; ++i) {
    const auto r = close(double(g[i]), want[i], rtol, atol);
    if (!r) {
      ++bad;
      ADD_FAILURE() << what << " element " << i << ": " << r.message();
    }
  }
}

template <typename T>
void check_config(const Config& c, bool unbatched = false) {
  std::mt19937 rng(static_cast<unsigned>(c.N * 131 + c.C * 17 + c.O * 7 + c.KH + c.G));
  const Shape xs = unbatched ? Shape{c.C, c.H, c.W} : Shape{c.N, c.C, c.H, c.W};
  const Tensor x = random_tensor<T>(xs, rng);
  const Tensor w = random_tensor<T>({c.O, c.C / c.G, c.KH, c.KW}, rng);
  const Tensor b = c.bias ? random_tensor<T>({c.O}, rng) : Tensor();
  const Shape stride{c.sh, c.sw}, padding{c.pt, c.pb, c.pl, c.pr}, dilation{c.dh, c.dw};
  const std::vector<T> xv = values<T>(x), wv = values<T>(w), bv = c.bias ? values<T>(b) : std::vector<T>();
  const double rtol = std::is_same_v<T, float> ? 1e-4 : 1e-10, atol = std::is_same_v<T, float> ? 1e-4 : 1e-10;

  const std::vector<double> want = naive_forward<T>(c, xv, wv, bv);
  for (int threads : {1, 2}) {
    ThreadGuard tg(threads);
    const std::string what = name(c) + (unbatched ? " unbatched" : "") + " threads " + std::to_string(threads);
    const Tensor y = conv2d_forward(x, w, b, stride, padding, dilation, c.G);
    const int64_t OH = out_size(c.H, c.pt, c.pb, c.dh, c.KH, c.sh), OW = out_size(c.W, c.pl, c.pr, c.dw, c.KW, c.sw);
    EXPECT_EQ(str(y.sizes()), str(unbatched ? Shape{c.O, OH, OW} : Shape{c.N, c.O, OH, OW})) << what;
    expect_close<T>(y, want, rtol, atol, what + " forward");

    std::mt19937 grng(7);
    const Tensor g = random_tensor<T>(y.sizes(), grng);
    std::vector<double> dx, dw, db;
    naive_backward<T>(c, xv, wv, values<T>(g), dx, dw, db);
    const auto grads = conv2d_backward(g, x, w, stride, padding, dilation, c.G, {true, true, c.bias});
    EXPECT_EQ(str(grads[0].sizes()), str(xs)) << what;
    expect_close<T>(grads[0], dx, rtol, atol, what + " grad_input");
    expect_close<T>(grads[1], dw, rtol, atol, what + " grad_weight");
    if (c.bias) expect_close<T>(grads[2], db, rtol, atol, what + " grad_bias");
    // one gradient alone takes the same path as all three together
    const auto only_w = conv2d_backward(g, x, w, stride, padding, dilation, c.G, {false, true, false});
    EXPECT_FALSE(only_w[0].defined());
    expect_close<T>(only_w[1], dw, rtol, atol, what + " grad_weight alone");
  }
}

// N C H W  O KH KW  sh sw  pt pb pl pr  dh dw  G  bias
const std::vector<Config> kConfigs = {
    {2, 3, 7, 5, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},     // plain, odd sizes
    {2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false},    // padding 1
    {3, 4, 9, 8, 6, 3, 2, 2, 1, 1, 1, 2, 2, 2, 1, 2, true},     // stride, dilation, groups, kernel (3, 2)
    {2, 4, 8, 6, 4, 4, 2, 1, 1, 1, 2, 0, 1, 1, 1, 4, true},     // "same" with an even kernel: asymmetric
    {8, 6, 5, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, true},     // depthwise; batched tiles of several samples
    {8, 16, 6, 6, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},    // tiny outputs: tiles span samples
    {5, 5, 7, 5, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},     // 1x1 direct GEMM, odd batch
    {4, 6, 7, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, false},    // 1x1 GEMM with groups
    {2, 6, 7, 5, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, true},     // 1x1 strided (uses im2col)
    {2, 64, 24, 24, 4, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, true},  // many channels: one sample cut in tiles
    {1, 3, 7, 5, 4, 5, 5, 3, 2, 2, 2, 2, 2, 1, 1, 1, true},     // kernel 5, batch 1
    {2, 2, 3, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},     // kernel as large as the input
    {8, 32, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},   // batched tiles, batch split on 2 threads
    {8, 64, 8, 8, 32, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},   // 1x1 GEMM, batch split on 2 threads
    // the direct kernels (stride 1, rows wide enough)
    {16, 1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},  // LeNet's first layer (batch split on 2 threads)
    {2, 3, 9, 13, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},    // RGB 3x3, 4 = 3 + 1 channels
    {2, 4, 8, 17, 5, 3, 2, 1, 1, 1, 1, 0, 1, 2, 2, 1, false},   // dilation 2, asymmetric padding, 3 + 2
    {3, 6, 7, 12, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, true},    // depthwise
    {2, 4, 7, 14, 6, 4, 4, 1, 1, 1, 2, 1, 2, 1, 1, 2, true},    // "same" 4x4: asymmetric, groups
    {1, 2, 5, 12, 3, 1, 3, 1, 1, 2, 2, 3, 3, 1, 1, 1, true},    // padding beyond the kernel's span
    {4, 24, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},  // long reduction (K = 216), batch split
    {4, 1, 12, 13, 2, 2, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},   // 1 input channel, 2 outputs
    {2, 3, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},    // rows of exactly one vector
};

// Configs of at least 2^20 multiply-adds split the batch across threads (run on 1 and 2).
// The kernel each config above takes in float32 (with AVX2+FMA; "direct" falls back to "im2col"
// without it).
const std::vector<std::string> kPaths = {
    "im2col", "im2col", "im2col", "im2col", "im2col", "im2col", "gemm", "gemm", "im2col", "im2col", "im2col",
    "im2col", "im2col", "gemm", "direct", "direct", "direct", "direct", "direct", "direct", "direct", "direct",
    "direct",
};

Conv2dGeometry geometry(const Config& c) {
  Conv2dGeometry g{};
  g.N = c.N, g.C = c.C, g.H = c.H, g.W = c.W, g.O = c.O, g.KH = c.KH, g.KW = c.KW, g.G = c.G;
  g.stride_h = c.sh, g.stride_w = c.sw, g.dilation_h = c.dh, g.dilation_w = c.dw;
  g.pad_top = c.pt, g.pad_bottom = c.pb, g.pad_left = c.pl, g.pad_right = c.pr;
  g.OH = out_size(c.H, c.pt, c.pb, c.dh, c.KH, c.sh);
  g.OW = out_size(c.W, c.pl, c.pr, c.dw, c.KW, c.sw);
  return g;
}

TEST(Conv2d, ConfigsCoverEveryKernelPath) {
  ASSERT_EQ(kConfigs.size(), kPaths.size());
  const bool avx2 = cpu_features().avx2 && cpu_features().fma;
  for (size_t i = 0; i < kConfigs.size(); ++i) {
    const std::string want = kPaths[i] == "direct" && !avx2 ? "im2col" : kPaths[i];
    EXPECT_EQ(cpu::conv2d_path(geometry(kConfigs[i]), DType::Float32), want) << name(kConfigs[i]);
    EXPECT_NE(std::string(cpu::conv2d_path(geometry(kConfigs[i]), DType::Float64)), "direct");
  }
}

TEST(Conv2d, ForwardBackwardMatchNaiveLoopsFloat32) {
  for (const Config& c : kConfigs) check_config<float>(c);
}

TEST(Conv2d, ForwardBackwardMatchNaiveLoopsFloat64) {
  for (const Config& c : kConfigs) check_config<double>(c);
}

TEST(Conv2d, Unbatched) {
  check_config<float>({1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true}, true);
  check_config<double>({1, 4, 7, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, true}, true);
}

TEST(Conv2d, EmptyBatch) {
  std::mt19937 rng(3);
  const Tensor x = Tensor::empty({0, 3, 5, 5}, DType::Float32);
  const Tensor w = random_tensor<float>({4, 3, 3, 3}, rng);
  const Tensor y = conv2d_forward(x, w, Tensor(), {1}, {0}, {1}, 1);
  EXPECT_EQ(str(y.sizes()), str({0, 4, 3, 3}));
  const auto g = conv2d_backward(y, x, w, {1}, {0}, {1}, 1, {true, true, true});
  for (int64_t i = 0; i < g[1].numel(); ++i) EXPECT_EQ(g[1].data<float>()[i], 0.0f);
  for (int64_t i = 0; i < g[2].numel(); ++i) EXPECT_EQ(g[2].data<float>()[i], 0.0f);
}

TEST(Conv2d, BadInputThrowsNamingOpAndShapes) {
  std::mt19937 rng(5);
  const Tensor x = random_tensor<float>({2, 4, 5, 5}, rng);
  const Tensor w = random_tensor<float>({6, 4, 3, 3}, rng);
  auto msg = expect_throw_msg<ValueError>([&] { conv2d_forward(x, random_tensor<float>({6, 4, 7, 7}, rng), Tensor(), {1}, {0}, {1}, 1); });
  EXPECT_TRUE(contains(msg, "lamina.conv2d") && contains(msg, "[6, 4, 7, 7]") && contains(msg, "padded input")) << msg;
  msg = expect_throw_msg<ValueError>([&] { conv2d_forward(x, random_tensor<float>({6, 2, 3, 3}, rng), Tensor(), {1}, {0}, {1}, 3); });
  EXPECT_TRUE(contains(msg, "divisible by groups")) << msg;
  msg = expect_throw_msg<ValueError>([&] { conv2d_forward(random_tensor<float>({4, 5}, rng), w, Tensor(), {1}, {0}, {1}, 1); });
  EXPECT_TRUE(contains(msg, "[4, 5]")) << msg;
  msg = expect_throw_msg<ValueError>([&] { conv2d_forward(x, w, random_tensor<float>({5}, rng), {1}, {0}, {1}, 1); });
  EXPECT_TRUE(contains(msg, "'bias'")) << msg;
  msg = expect_throw_msg<TypeError>([&] { conv2d_forward(x, random_tensor<double>({6, 4, 3, 3}, rng), Tensor(), {1}, {0}, {1}, 1); });
  EXPECT_TRUE(contains(msg, "float32") && contains(msg, "float64")) << msg;
  msg = expect_throw_msg<ValueError>([&] { conv2d_forward(x, w, Tensor(), {0}, {0}, {1}, 1); });
  EXPECT_TRUE(contains(msg, "'stride'")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    conv2d_backward(random_tensor<float>({2, 6, 2, 2}, rng), x, w, {1}, {0}, {1}, 1, {true, true, true});
  });
  EXPECT_TRUE(contains(msg, "'grad_output'") && contains(msg, "[2, 6, 3, 3]")) << msg;
}

}  // namespace
}  // namespace lamina
