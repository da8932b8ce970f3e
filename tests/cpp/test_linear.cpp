// linear_forward / linear_backward against naive loops: float32 and float64, bias or not, 1-D and
// 3-D inputs, transposed and strided operands, empty sizes, thread-count independence, bad input.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ops/linear.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::close;
using test::contains;
using test::expect_throw_msg;
using test::random_tensor;
using test::str;
using test::to_vec;

// Naive reference: y[m][n] = b[n] + sum_k x[m][k] w[n][k]; grads from g [M, N].
struct Ref {
  std::vector<double> y, gx, gw, gb;
};

template <typename T>
Ref reference(const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>* b,
              const std::vector<T>& g, int64_t M, int64_t N, int64_t K) {
  Ref r;
  r.y.assign(M * N, 0.0);
  r.gx.assign(M * K, 0.0);
  r.gw.assign(N * K, 0.0);
  r.gb.assign(N, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = b ? static_cast<double>((*b)[n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[m * K + k]) * w[n * K + k];
      r.y[m * N + n] = acc;
      const double gv = g[m * N + n];
      r.gb[n] += gv;
      for (int64_t k = 0; k < K; ++k) {
        r.gx[m * K + k] += gv * w[n * K + k];
        r.gw[n * K + k] += gv * x[m * K + k];
      }
    }
  return r;
}

template <typename T>
void expect_all_close(const Tensor& got, const std::vector<double>& want, double rtol, double atol,
                      const char* what) {
  const auto v = to_vec<T>(got);
  ASSERT_EQ(v.size(), want.size()) << what;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_TRUE(close(v[i], want[i], rtol, atol)) << what << " at " << i;
}

template <typename T>
void run_case(const Shape& in_shape, int64_t N, bool bias, std::mt19937& rng) {
  const int64_t K = in_shape.back();
  int64_t M = 1;
  for (size_t i = 0; i + 1 < in_shape.size(); ++i) M *= in_shape[i];
  const Tensor x = random_tensor<T>(in_shape, rng);
  const Tensor w = random_tensor<T>({N, K}, rng);
  const Tensor b = bias ? random_tensor<T>({N}, rng) : Tensor();
  Shape out_shape(in_shape.begin(), in_shape.end() - 1);
  out_shape.push_back(N);
  const Tensor g = random_tensor<T>(out_shape, rng);
  const auto xv = to_vec<T>(x), wv = to_vec<T>(w), gv = to_vec<T>(g);
  const auto bv = bias ? to_vec<T>(b) : std::vector<T>();
  const Ref r = reference<T>(xv, wv, bias ? &bv : nullptr, gv, M, N, K);
  const double rtol = std::is_same_v<T, float> ? 1e-5 : 1e-12, atol = std::is_same_v<T, float> ? 1e-5 : 1e-12;

  const Tensor y = linear_forward(x, w, b);
  ASSERT_EQ(y.sizes(), out_shape);
  expect_all_close<T>(y, r.y, rtol, atol, "y");
  const LinearGrads grads = linear_backward(g, x, w, in_shape, true, true, bias);
  ASSERT_EQ(grads.grad_input.sizes(), in_shape);
  expect_all_close<T>(grads.grad_input, r.gx, rtol, atol, "grad_input");
  expect_all_close<T>(grads.grad_weight, r.gw, rtol, atol, "grad_weight");
  if (bias) expect_all_close<T>(grads.grad_bias, r.gb, rtol, atol, "grad_bias");
  else EXPECT_FALSE(grads.grad_bias.defined());
  // only what is asked for
  const LinearGrads only_w = linear_backward(g, x, Tensor(), in_shape, false, true, false);
  EXPECT_FALSE(only_w.grad_input.defined());
  expect_all_close<T>(only_w.grad_weight, r.gw, rtol, atol, "grad_weight alone");
}

TEST(Linear, MatchesNaiveLoops) {
  std::mt19937 rng(7);
  const std::vector<std::pair<Shape, int64_t>> cases = {
      {{7, 5}, 3}, {{5}, 3}, {{2, 3, 5}, 4}, {{1, 1}, 1}, {{33, 65}, 17}, {{3, 1, 2, 9}, 6}, {{130, 7}, 257}};
  for (const auto& [shape, n] : cases)
    for (bool bias : {true, false}) {
      SCOPED_TRACE(str(shape) + " N=" + std::to_string(n) + (bias ? " bias" : ""));
      run_case<float>(shape, n, bias, rng);
      run_case<double>(shape, n, bias, rng);
    }
}

TEST(Linear, TransposedAndStridedOperandsReadInPlace) {
  std::mt19937 rng(3);
  const Tensor xt = random_tensor<double>({5, 7}, rng);  // x = xt^T: [7, 5], column-major
  const Tensor wt = random_tensor<double>({5, 3}, rng);  // w = wt^T: [3, 5]
  const Tensor wide = random_tensor<double>({7, 10}, rng);
  const Tensor xs = wide.slice(1, 0, 10, 2);             // [7, 5] with column stride 2
  const Tensor b = random_tensor<double>({3}, rng);
  const Tensor g = random_tensor<double>({7, 3}, rng);
  for (const Tensor& x : {xt.transpose(0, 1), xs}) {
    const Tensor w = wt.transpose(0, 1);
    const auto xv = to_vec<double>(x), wv = to_vec<double>(w), bv = to_vec<double>(b), gv = to_vec<double>(g);
    const Ref r = reference<double>(xv, wv, &bv, gv, 7, 3, 5);
    expect_all_close<double>(linear_forward(x, w, b), r.y, 1e-12, 1e-12, "y");
    const LinearGrads gr = linear_backward(g.transpose(0, 1).transpose(0, 1), x, w, {7, 5}, true, true, true);
    expect_all_close<double>(gr.grad_input, r.gx, 1e-12, 1e-12, "grad_input");
    expect_all_close<double>(gr.grad_weight, r.gw, 1e-12, 1e-12, "grad_weight");
    expect_all_close<double>(gr.grad_bias, r.gb, 1e-12, 1e-12, "grad_bias");
    // a transposed (column-major) and a broadcast (stride 0) grad_output
    const Tensor gT = random_tensor<double>({3, 7}, rng).transpose(0, 1);
    const Ref r2 = reference<double>(xv, wv, &bv, to_vec<double>(gT), 7, 3, 5);
    const LinearGrads g2 = linear_backward(gT, x, w, {7, 5}, true, true, true);
    expect_all_close<double>(g2.grad_weight, r2.gw, 1e-12, 1e-12, "grad_weight (g transposed)");
    expect_all_close<double>(g2.grad_bias, r2.gb, 1e-12, 1e-12, "grad_bias (g transposed)");
    const Tensor gB = random_tensor<double>({1, 3}, rng).expand({7, 3});
    const Ref r3 = reference<double>(xv, wv, &bv, to_vec<double>(gB), 7, 3, 5);
    const LinearGrads g3 = linear_backward(gB, x, w, {7, 5}, true, true, true);
    expect_all_close<double>(g3.grad_input, r3.gx, 1e-12, 1e-12, "grad_input (g broadcast)");
    expect_all_close<double>(g3.grad_bias, r3.gb, 1e-12, 1e-12, "grad_bias (g broadcast)");
  }
}

TEST(Linear, EmptySizes) {
  std::mt19937 rng(1);
  const Tensor b = random_tensor<float>({3}, rng);
  const Tensor y0 = linear_forward(Tensor::empty({0, 5}, DType::Float32), random_tensor<float>({3, 5}, rng), b);
  EXPECT_EQ(y0.sizes(), (Shape{0, 3}));
  // K == 0: y = b
  const Tensor yk = linear_forward(Tensor::empty({4, 0}, DType::Float32), Tensor::empty({3, 0}, DType::Float32), b);
  const auto bv = to_vec<float>(b), yv = to_vec<float>(yk);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(yv[i], bv[i % 3]);
  // M == 0: zero weight and bias gradients
  const LinearGrads g = linear_backward(Tensor::empty({0, 3}, DType::Float32), Tensor::empty({0, 5}, DType::Float32),
                                        random_tensor<float>({3, 5}, rng), {0, 5}, true, true, true);
  for (float v : to_vec<float>(g.grad_weight)) EXPECT_EQ(v, 0.0f);
  for (float v : to_vec<float>(g.grad_bias)) EXPECT_EQ(v, 0.0f);
}

TEST(Linear, SameResultOnOneOrTwoThreads) {
  std::mt19937 rng(5);
  const Tensor x = random_tensor<float>({96, 70}, rng), w = random_tensor<float>({300, 70}, rng);
  const Tensor b = random_tensor<float>({300}, rng), g = random_tensor<float>({96, 300}, rng);
  std::vector<float> y1, gb1;
  {
    test::ThreadGuard one(1);
    y1 = to_vec<float>(linear_forward(x, w, b));
    gb1 = to_vec<float>(linear_backward(g, x, w, {96, 70}, false, false, true).grad_bias);
  }
  test::ThreadGuard two(2);
  const auto y2 = to_vec<float>(linear_forward(x, w, b));
  const auto gb2 = to_vec<float>(linear_backward(g, x, w, {96, 70}, false, false, true).grad_bias);
  for (size_t i = 0; i < y1.size(); ++i) ASSERT_TRUE(close(y2[i], y1[i], 1e-6, 1e-6));
  EXPECT_EQ(gb1, gb2);  // column sums: each column summed by one thread in one order
}

TEST(Linear, BadInputThrowsClearErrors) {
  std::mt19937 rng(2);
  const Tensor x = random_tensor<float>({7, 5}, rng), w = random_tensor<float>({3, 4}, rng);
  std::string msg = expect_throw_msg<ValueError>([&] { linear_forward(x, w, Tensor()); });
  EXPECT_TRUE(contains(msg, "lamina.linear") && contains(msg, "[7, 5]") && contains(msg, "[3, 4]")) << msg;
  msg = expect_throw_msg<TypeError>([&] {
    linear_forward(x, random_tensor<double>({3, 5}, rng), Tensor());
  });
  EXPECT_TRUE(contains(msg, "float32 and float64")) << msg;
  msg = expect_throw_msg<TypeError>([&] {
    linear_forward(random_tensor<int64_t>({2, 5}, rng), random_tensor<int64_t>({3, 5}, rng), Tensor());
  });
  EXPECT_TRUE(contains(msg, "int64")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    linear_forward(x, random_tensor<float>({3, 5}, rng), random_tensor<float>({4}, rng));
  });
  EXPECT_TRUE(contains(msg, "bias")) << msg;
  msg = expect_throw_msg<ValueError>([&] {
    linear_backward(random_tensor<float>({7, 4}, rng), x, random_tensor<float>({3, 5}, rng), {7, 5}, true, true,
                    false);
  });
  EXPECT_TRUE(contains(msg, "grad_output") || contains(msg, "weight shape")) << msg;
}

}  // namespace
}  // namespace lamina
