// embedding_forward / embedding_backward against naive loops: float32 and float64, repeated
// indices, padding_idx, scale_grad_by_freq, non-contiguous indices, thread-count independence
// (the backward is deterministic), bad input.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ops/embedding.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_tensor;
using test::to_vec;

template <typename T>
void run_case(int64_t N, int64_t D, const Shape& idx_shape, int64_t padding_idx, bool scale, std::mt19937& rng) {
  const int64_t n = test::numel_of(idx_shape);
  std::uniform_int_distribution<int64_t> pick(0, N - 1);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (auto& v : idx) v = pick(rng);
  if (n > 2) idx[n - 1] = idx[0];  // a repeat
  const Tensor w = random_tensor<T>({N, D}, rng);
  const Tensor ind = from_vec<int64_t>(idx_shape, idx);
  const Tensor out = embedding_forward(w, ind);
  Shape os = idx_shape;
  os.push_back(D);
  ASSERT_EQ(out.sizes(), os);
  const auto wv = to_vec<T>(w), ov = to_vec<T>(out);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) ASSERT_EQ(ov[i * D + d], wv[idx[i] * D + d]);

  const Tensor g = random_tensor<T>(os, rng);
  const auto gv = to_vec<T>(g);
  std::vector<double> want(static_cast<size_t>(N * D), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(N), 0);
  for (int64_t i = 0; i < n; ++i) ++count[idx[i]];
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] == padding_idx) continue;
    for (int64_t d = 0; d < D; ++d)
      want[idx[i] * D + d] += static_cast<double>(gv[i * D + d]) / (scale ? count[idx[i]] : 1);
  }
  const Tensor gw = embedding_backward(g, ind, N, padding_idx, scale);
  ASSERT_EQ(gw.sizes(), Shape({N, D}));
  const auto got = to_vec<T>(gw);
  for (size_t k = 0; k < got.size(); ++k) ASSERT_TRUE(test::close(got[k], want[k], 1e-5, 1e-6)) << k;
}

TEST(Embedding, MatchesNaiveLoops) {
  std::mt19937 rng(1);
  for (int64_t pad : {int64_t(-1), int64_t(0), int64_t(2)})
    for (bool scale : {false, true}) {
      run_case<float>(7, 3, {5}, pad, scale, rng);
      run_case<double>(11, 5, {2, 9}, pad, scale, rng);
      run_case<float>(3, 1, {4, 1, 3}, pad, scale, rng);
      run_case<float>(40, 300, {64, 3}, pad, scale, rng);
      run_case<double>(5, 4, {}, pad, scale, rng);
      run_case<float>(5, 4, {0}, pad, scale, rng);
    }
}

TEST(Embedding, NonContiguousIndicesAndWeight) {
  std::mt19937 rng(2);
  const Tensor w = random_tensor<float>({6, 4}, rng).transpose(0, 1);  // [4, 6] view
  const Tensor ind = from_vec<int64_t>({2, 3}, {0, 1, 2, 3, 3, 1}).transpose(0, 1);  // [[0,3],[1,3],[2,1]]
  const auto out = to_vec<float>(embedding_forward(w, ind));
  const std::vector<int64_t> order = {0, 3, 1, 3, 2, 1};
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t d = 0; d < 6; ++d) ASSERT_EQ(out[i * 6 + d], test::at<float>(w, {order[i], d}));
}

TEST(Embedding, BackwardIsDeterministicAcrossThreadCounts) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> pick(0, 9);
  std::vector<int64_t> idx(5000);
  for (auto& v : idx) v = pick(rng);
  const Tensor ind = from_vec<int64_t>({5000}, idx);
  const Tensor g = random_tensor<float>({5000, 67}, rng);
  auto go = [&](int threads) {
    test::ThreadGuard guard(threads);
    return to_vec<float>(embedding_backward(g, ind, 10, -1, false));
  };
  const auto a = go(1);
  EXPECT_EQ(a, go(2));
  EXPECT_EQ(a, go(2));
}

TEST(Embedding, BadInput) {
  std::mt19937 rng(4);
  const Tensor w = random_tensor<float>({5, 3}, rng);
  EXPECT_TRUE(contains(expect_throw_msg<IndexError>([&] { embedding_forward(w, from_vec<int64_t>({2}, {0, 5})); }),
                       "lamina.embedding: index 5 at position 1"));
  EXPECT_TRUE(contains(expect_throw_msg<IndexError>([&] { embedding_forward(w, from_vec<int64_t>({1}, {-1})); }),
                       "index -1"));
  EXPECT_TRUE(contains(expect_throw_msg<TypeError>([&] { embedding_forward(w, random_tensor<float>({2}, rng)); }),
                       "must be int64"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>([&] { embedding_forward(random_tensor<float>({5}, rng),
                                                                           from_vec<int64_t>({1}, {0})); }),
                       "must be 2-D"));
  EXPECT_TRUE(contains(expect_throw_msg<ValueError>([&] {
                         embedding_backward(random_tensor<float>({3, 3}, rng), from_vec<int64_t>({2}, {0, 1}), 5, -1,
                                            false);
                       }),
                       "does not match indices shape"));
  EXPECT_TRUE(contains(expect_throw_msg<IndexError>([&] {
                         embedding_backward(random_tensor<float>({2, 3}, rng), from_vec<int64_t>({2}, {0, 9}), 5, -1,
                                            false);
                       }),
                       "index 9"));
}

}  // namespace
}  // namespace lamina
