// The fused RBM CD-k / PCD-k step (ops/rbm.h) against a naive reference written from the
// header's formulas with plain loops in double, drawing element i of each draw from core/rng.h as
// the kernel contract says; float and double; Bernoulli and Gaussian units; thread-count
// independence; the generator's offset; argument checks that fire before anything is written.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"
#include "ops/copy.h"
#include "ops/rbm.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_vec;
using test::to_vec;

using Mat = std::vector<double>;

struct RefState {
  Mat W, hb, vb, vw, vhb, vvb, chain;
};

template <typename T>
double draw_uniform(uint64_t seed, uint64_t off, uint64_t i) {
  if constexpr (std::is_same_v<T, float>) return uniform_at_f32(seed, off, i);
  else return uniform_at_f64(seed, off, i);
}

// act(x W^T + hb) for rows of x (rows x V) -> rows x H, or act(h W + vb) with transpose=false.
Mat up(const Mat& x, int64_t rows, const Mat& W, const Mat& hb, int64_t H, int64_t V, bool gaussian) {
  Mat out(static_cast<size_t>(rows * H));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < H; ++j) {
      double s = hb[j];
      for (int64_t i = 0; i < V; ++i) s += x[r * V + i] * W[j * V + i];
      out[r * H + j] = gaussian ? s : 1.0 / (1.0 + std::exp(-s));
    }
  return out;
}
Mat down(const Mat& h, int64_t rows, const Mat& W, const Mat& vb, int64_t H, int64_t V, bool gaussian) {
  Mat out(static_cast<size_t>(rows * V));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < V; ++i) {
      double s = vb[i];
      for (int64_t j = 0; j < H; ++j) s += h[r * H + j] * W[j * V + i];
      out[r * V + i] = gaussian ? s : 1.0 / (1.0 + std::exp(-s));
    }
  return out;
}

template <typename T>
Mat sample(const Mat& mean, bool gaussian, uint64_t seed, uint64_t off) {
  Mat out(mean.size());
  for (size_t i = 0; i < mean.size(); ++i)
    out[i] = gaussian ? mean[i] + static_cast<double>(static_cast<T>(normal_at(seed, off, i)))
                      : (draw_uniform<T>(seed, off, i) < mean[i] ? 1.0 : 0.0);
  return out;
}

// The update of ops/rbm.h, written out.
template <typename T>
double reference_step(RefState& s, const Mat& v0, int64_t N, int64_t H, int64_t V, const RbmStep& p, bool persistent,
                      uint64_t seed, const std::vector<uint64_t>& offsets) {
  const int64_t M = persistent ? static_cast<int64_t>(s.chain.size()) / V : N;
  Mat h0 = up(v0, N, s.W, s.hb, H, V, p.gaussian_hidden);
  Mat vk = persistent ? s.chain : v0;
  Mat hk = persistent ? up(vk, M, s.W, s.hb, H, V, p.gaussian_hidden) : h0;
  size_t d = 0;
  double err = 0;
  for (int64_t step = 0; step < p.k; ++step) {
    const Mat hs = sample<T>(hk, p.gaussian_hidden, seed, offsets[d++]);
    vk = down(hs, M, s.W, s.vb, H, V, p.gaussian_visible);
    if (persistent) vk = sample<T>(vk, p.gaussian_visible, seed, offsets[d++]);
    if (!persistent && step == 0)
      for (size_t i = 0; i < vk.size(); ++i) err += (v0[i] - vk[i]) * (v0[i] - vk[i]) / static_cast<double>(N);
    hk = up(vk, M, s.W, s.hb, H, V, p.gaussian_hidden);
  }
  if (persistent) {
    const Mat rv = down(h0, N, s.W, s.vb, H, V, p.gaussian_visible);
    for (size_t i = 0; i < rv.size(); ++i) err += (v0[i] - rv[i]) * (v0[i] - rv[i]) / static_cast<double>(N);
    s.chain = vk;
  }
  for (int64_t j = 0; j < H; ++j)
    for (int64_t i = 0; i < V; ++i) {
      double pos = 0, neg = 0;
      for (int64_t r = 0; r < N; ++r) pos += h0[r * H + j] * v0[r * V + i];
      for (int64_t r = 0; r < M; ++r) neg += hk[r * H + j] * vk[r * V + i];
      double& vel = s.vw[j * V + i];
      vel = p.momentum * vel + p.lr * (pos / N - neg / M - p.weight_decay * s.W[j * V + i]);
    }
  for (size_t i = 0; i < s.W.size(); ++i) s.W[i] += s.vw[i];
  for (int64_t j = 0; j < H; ++j) {
    double pos = 0, neg = 0;
    for (int64_t r = 0; r < N; ++r) pos += h0[r * H + j];
    for (int64_t r = 0; r < M; ++r) neg += hk[r * H + j];
    s.vhb[j] = p.momentum * s.vhb[j] + p.lr * (pos / N - neg / M);
    s.hb[j] += s.vhb[j];
  }
  for (int64_t i = 0; i < V; ++i) {
    double pos = 0, neg = 0;
    for (int64_t r = 0; r < N; ++r) pos += v0[r * V + i];
    for (int64_t r = 0; r < M; ++r) neg += vk[r * V + i];
    s.vvb[i] = p.momentum * s.vvb[i] + p.lr * (pos / N - neg / M);
    s.vb[i] += s.vvb[i];
  }
  return err;
}

template <typename T>
Mat as_double(const std::vector<T>& v) {
  return Mat(v.begin(), v.end());
}
template <typename T>
std::vector<T> as_t(const Mat& v) {
  return std::vector<T>(v.begin(), v.end());
}

struct Case {
  int64_t N, M, V, H, k;
  bool persistent, gv, gh;
};

template <typename T>
void run_case(const Case& c, int threads) {
  SCOPED_TRACE(testing::Message() << "N=" << c.N << " M=" << c.M << " V=" << c.V << " H=" << c.H << " k=" << c.k
                                  << " pcd=" << c.persistent << " gv=" << c.gv << " gh=" << c.gh
                                  << " threads=" << threads);
  const int saved = get_num_threads();
  set_num_threads(threads);
  std::mt19937 rng(1234 + static_cast<unsigned>(c.V * 7 + c.H));
  RefState s;
  s.W = as_double(random_vec<T>(c.H * c.V, rng, -0.3, 0.3));
  s.hb = as_double(random_vec<T>(c.H, rng, -0.3, 0.3));
  s.vb = as_double(random_vec<T>(c.V, rng, -0.3, 0.3));
  s.vw = Mat(static_cast<size_t>(c.H * c.V), 0.0);
  s.vhb = Mat(static_cast<size_t>(c.H), 0.0);
  s.vvb = Mat(static_cast<size_t>(c.V), 0.0);
  std::bernoulli_distribution coin(0.4);
  auto batch = [&](int64_t rows) {
    Mat m(static_cast<size_t>(rows * c.V));
    for (auto& x : m) x = c.gv ? static_cast<double>(static_cast<T>(std::normal_distribution<double>()(rng))) : coin(rng);
    return m;
  };
  if (c.persistent) s.chain = batch(c.M);
  Tensor W = from_vec<T>({c.H, c.V}, as_t<T>(s.W)), hb = from_vec<T>({c.H}, as_t<T>(s.hb)),
         vb = from_vec<T>({c.V}, as_t<T>(s.vb)), vw = from_vec<T>({c.H, c.V}, as_t<T>(s.vw)),
         vhb = from_vec<T>({c.H}, as_t<T>(s.vhb)), vvb = from_vec<T>({c.V}, as_t<T>(s.vvb));
  Tensor chain = c.persistent ? from_vec<T>({c.M, c.V}, as_t<T>(s.chain)) : Tensor();
  const RbmStep p{0.05, 0.7, 1e-3, c.k, c.gv, c.gh};
  manual_seed(99);
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  for (int step = 0; step < 3; ++step) {
    const Mat v0 = batch(c.N);
    // the offsets the op will reserve, in order
    const bool f32 = std::is_same_v<T, float>;
    auto blocks = [&](uint64_t n, bool g) { return g ? normal_blocks(n) : (f32 ? uniform_blocks_f32(n) : uniform_blocks_f64(n)); };
    std::vector<uint64_t> offsets;
    uint64_t off = default_generator().offset;
    const uint64_t M = static_cast<uint64_t>(c.persistent ? c.M : c.N);
    for (int64_t d = 0; d < c.k; ++d) {
      offsets.push_back(off);
      off += blocks(M * static_cast<uint64_t>(c.H), c.gh);
      if (c.persistent) {
        offsets.push_back(off);
        off += blocks(M * static_cast<uint64_t>(c.V), c.gv);
      }
    }
    const uint64_t seed = default_generator().seed;
    const double err = rbm_cd_step(from_vec<T>({c.N, c.V}, as_t<T>(v0)), chain, W, hb, vb, vw, vhb, vvb, p);
    EXPECT_EQ(default_generator().offset, off);
    const double err_ref = reference_step<T>(s, v0, c.N, c.H, c.V, p, c.persistent, seed, offsets);
    EXPECT_NEAR(err, err_ref, tol * (1 + std::abs(err_ref)));
    auto expect_close = [&](const Tensor& t, const Mat& want, const char* name) {
      const auto got = to_vec<T>(t);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << name << "[" << i << "] step " << step;
    };
    expect_close(W, s.W, "weight");
    expect_close(hb, s.hb, "h_bias");
    expect_close(vb, s.vb, "v_bias");
    expect_close(vw, s.vw, "vel_w");
    if (c.persistent) expect_close(chain, s.chain, "chain");
  }
  set_num_threads(saved);
}

const std::vector<Case> kCases = {
    {7, 7, 13, 5, 1, false, false, false},   {9, 9, 23, 17, 3, false, false, false},
    {6, 11, 19, 7, 2, true, false, false},   {5, 5, 10, 9, 1, false, true, false},
    {4, 3, 9, 6, 1, true, true, false},      {8, 8, 11, 5, 2, false, false, true},
    {3, 5, 7, 4, 2, true, true, true},       {33, 33, 70, 41, 1, false, false, false},
};

TEST(RbmCdStep, MatchesNaiveReferenceFloat) {
  for (const Case& c : kCases) run_case<float>(c, 2);
}
TEST(RbmCdStep, MatchesNaiveReferenceDouble) {
  for (const Case& c : kCases) run_case<double>(c, 2);
}
TEST(RbmCdStep, MatchesNaiveReferenceOneThread) {
  for (const Case& c : kCases) run_case<float>(c, 1);
}
// The plain build of the activation and sampling pass (the AVX2 one runs above on AVX2 CPUs).
TEST(RbmCdStep, MatchesNaiveReferencePortable) {
  cpu::rbm_force_portable(true);
  for (const Case& c : kCases) run_case<float>(c, 2);
  for (const Case& c : kCases) run_case<double>(c, 2);
  cpu::rbm_force_portable(false);
}

// Both paths: W packed per step (301 rows) and read in place (10 rows), each big enough to thread.
TEST(RbmCdStep, SameResultWhateverTheThreadCount) {
  for (int64_t rows : {301, 10}) {
    const int saved = get_num_threads();
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::mt19937 rng(5);
      Tensor W = test::random_tensor<float>({137, 301}, rng, -0.1, 0.1);
      Tensor hb = full({137}, Scalar::from_double(0.0), DType::Float32, Device());
      Tensor vb = full({301}, Scalar::from_double(0.0), DType::Float32, Device());
      Tensor vw = full({137, 301}, Scalar::from_double(0.0), DType::Float32, Device());
      Tensor vhb = full({137}, Scalar::from_double(0.0), DType::Float32, Device());
      Tensor vvb = full({301}, Scalar::from_double(0.0), DType::Float32, Device());
      Tensor v = test::random_tensor<float>({rows, 301}, rng, 0.0, 1.0);
      manual_seed(3);
      rbm_cd_step(v, Tensor(), W, hb, vb, vw, vhb, vvb, RbmStep{0.1, 0.5, 2e-4, 2, false, false});
      results.push_back(to_vec<float>(W));
    }
    set_num_threads(saved);
    EXPECT_EQ(results[0], results[1]) << rows << " rows";
    EXPECT_EQ(results[0], results[2]) << rows << " rows";
  }
}

TEST(RbmCdStep, RejectsBadArgumentsBeforeWriting) {
  auto zeros = [](const Shape& s, DType dt = DType::Float32) {
    return full(s, Scalar::from_double(0.0), dt, Device());
  };
  Tensor W = zeros({4, 6}), hb = zeros({4}), vb = zeros({6}), vw = zeros({4, 6}), vhb = zeros({4}), vvb = zeros({6});
  Tensor v = full({3, 6}, Scalar::from_double(1.0), DType::Float32, Device());
  const RbmStep ok{0.1, 0.5, 0.0, 1, false, false};
  const uint64_t before = default_generator().offset;
  auto msg_v = expect_throw_msg<ValueError>([&] { rbm_cd_step(zeros({3, 5}), Tensor(), W, hb, vb, vw, vhb, vvb, ok); });
  EXPECT_TRUE(contains(msg_v, "rbm_cd_step") && contains(msg_v, "'v'")) << msg_v;
  auto msg_hb = expect_throw_msg<ValueError>([&] { rbm_cd_step(v, Tensor(), W, zeros({5}), vb, vw, vhb, vvb, ok); });
  EXPECT_TRUE(contains(msg_hb, "'h_bias'")) << msg_hb;
  auto msg_dt = expect_throw_msg<TypeError>(
      [&] { rbm_cd_step(zeros({3, 6}, DType::Float64), Tensor(), W, hb, vb, vw, vhb, vvb, ok); });
  EXPECT_TRUE(contains(msg_dt, "dtype")) << msg_dt;
  auto msg_k = expect_throw_msg<ValueError>(
      [&] { rbm_cd_step(v, Tensor(), W, hb, vb, vw, vhb, vvb, RbmStep{0.1, 0.5, 0.0, 0, false, false}); });
  EXPECT_TRUE(contains(msg_k, "'k'")) << msg_k;
  auto msg_m = expect_throw_msg<ValueError>(
      [&] { rbm_cd_step(v, Tensor(), W, hb, vb, vw, vhb, vvb, RbmStep{0.1, 1.0, 0.0, 1, false, false}); });
  EXPECT_TRUE(contains(msg_m, "'momentum'")) << msg_m;
  auto msg_c = expect_throw_msg<ValueError>([&] { rbm_cd_step(v, zeros({2, 5}), W, hb, vb, vw, vhb, vvb, ok); });
  EXPECT_TRUE(contains(msg_c, "'chain'")) << msg_c;
  EXPECT_EQ(default_generator().offset, before);  // nothing drawn
  for (float x : to_vec<float>(W)) EXPECT_EQ(x, 0.0f);  // nothing written
}

}  // namespace
}  // namespace lamina
