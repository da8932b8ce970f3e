// Shape arithmetic (broadcast_shapes, broadcast_strides, wrap_dim) and strided iteration
// (make_plan, plan_for_range, plan_parallel_for) against naive multi-index computations.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <numeric>
#include <random>
#include <vector>

#include "core/iter.h"
#include "core/shape.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::contains;
using test::expect_throw_msg;
using test::starts_with;

// ---------------------------------------------------------------------------------------------
// broadcast_shapes / broadcast_strides / wrap_dim
// ---------------------------------------------------------------------------------------------

TEST(BroadcastShapes, Valid) {
  EXPECT_EQ(broadcast_shapes({3, 1, 5}, {4, 5}, "add"), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({4, 5}, {3, 1, 5}, "add"), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}, "add"), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes({2, 3}, {}, "add"), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes({}, {}, "add"), (Shape{}));
  EXPECT_EQ(broadcast_shapes({1}, {0}, "add"), (Shape{0}));
  EXPECT_EQ(broadcast_shapes({2, 1}, {1, 0}, "add"), (Shape{2, 0}));
  EXPECT_EQ(broadcast_shapes({7, 1, 1, 3}, {2, 1, 5, 1, 3}, "add"), (Shape{2, 7, 5, 1, 3}));
  EXPECT_THROW(broadcast_shapes({7, 1, 1, 3}, {1, 5, 1, 1, 3}, "add"), ValueError);  // 7 vs 5
  EXPECT_EQ(broadcast_shapes({1, 1}, {1}, "add"), (Shape{1, 1}));
}

TEST(BroadcastShapes, InvalidThrowsValueErrorNamingBothShapes) {
  EXPECT_THROW(broadcast_shapes({3, 4}, {5, 4}, "add"), ValueError);
  EXPECT_THROW(broadcast_shapes({2, 0}, {2, 3}, "add"), ValueError);
  EXPECT_THROW(broadcast_shapes({3}, {4, 2}, "add"), ValueError);
  const std::string msg = expect_throw_msg<ValueError>([] { broadcast_shapes({3, 4}, {2, 5, 4}, "mul"); });
  EXPECT_TRUE(starts_with(msg, "lamina.mul: ")) << msg;
  EXPECT_TRUE(contains(msg, "[3, 4]")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 5, 4]")) << msg;
}

TEST(BroadcastStrides, ZeroForBroadcastDims) {
  EXPECT_EQ(broadcast_strides({3, 1, 5}, {5, 5, 1}, {2, 3, 4, 5}, "add"), (Shape{0, 5, 0, 1}));
  EXPECT_EQ(broadcast_strides({3, 1, 5}, {5, 5, 1}, {3, 1, 5}, "add"), (Shape{5, 5, 1}));  // 1 -> 1 keeps
  EXPECT_EQ(broadcast_strides({}, {}, {4, 2}, "add"), (Shape{0, 0}));
  EXPECT_EQ(broadcast_strides({5, 1}, {1, 5}, {5, 3}, "add"), (Shape{1, 0}));  // transposed input
  EXPECT_THROW(broadcast_strides({3, 2}, {2, 1}, {3, 4}, "add"), ValueError);
  EXPECT_THROW(broadcast_strides({2, 3}, {3, 1}, {3}, "add"), ValueError);
}

TEST(WrapDim, PositiveNegativeAndOutOfRange) {
  EXPECT_EQ(wrap_dim(0, 3, "sum"), 0);
  EXPECT_EQ(wrap_dim(2, 3, "sum"), 2);
  EXPECT_EQ(wrap_dim(-1, 3, "sum"), 2);
  EXPECT_EQ(wrap_dim(-3, 3, "sum"), 0);
  EXPECT_THROW(wrap_dim(3, 3, "sum"), IndexError);
  EXPECT_THROW(wrap_dim(-4, 3, "sum"), IndexError);
  const std::string msg = expect_throw_msg<IndexError>([] { wrap_dim(5, 3, "sum"); });
  EXPECT_TRUE(starts_with(msg, "lamina.sum: ")) << msg;
  EXPECT_TRUE(contains(msg, "5")) << msg;
}

TEST(WrapDim, ZeroDimAcceptsMinusOneAndZero) {
  EXPECT_EQ(wrap_dim(0, 0, "sum"), 0);
  EXPECT_EQ(wrap_dim(-1, 0, "sum"), 0);
  EXPECT_THROW(wrap_dim(1, 0, "sum"), IndexError);
  EXPECT_THROW(wrap_dim(-2, 0, "sum"), IndexError);
}

TEST(ShapeHelpers, ContiguousStridesAndCheckedNumel) {
  EXPECT_EQ(contiguous_strides({3, 5, 7}), (Shape{35, 7, 1}));
  EXPECT_EQ(contiguous_strides({}), (Shape{}));
  EXPECT_EQ(checked_numel({3, 5, 7}, "x"), 105);
  EXPECT_EQ(checked_numel({}, "x"), 1);
  EXPECT_EQ(checked_numel({4, 0, int64_t(1) << 62}, "x"), 0);
  EXPECT_THROW(checked_numel({int64_t(1) << 32, int64_t(1) << 32}, "x"), ValueError);
  EXPECT_THROW(checked_numel({2, -2}, "x"), ValueError);
}

// ---------------------------------------------------------------------------------------------
// make_plan
// ---------------------------------------------------------------------------------------------

TEST(MakePlan, ContiguousCoalescesToOneDim) {
  const Shape s{3, 5, 7};
  const auto p = make_plan<1>(s, {contiguous_strides(s)}, "t");
  EXPECT_EQ(p.ndim, 1);
  EXPECT_EQ(p.numel, 105);
  EXPECT_EQ(p.sizes[0], 105);
  EXPECT_EQ(p.strides[0][0], 1);
  // Two contiguous operands and a full broadcast scalar still merge into one dim.
  const auto q = make_plan<3>(s, {contiguous_strides(s), contiguous_strides(s), Shape{0, 0, 0}}, "t");
  EXPECT_EQ(q.ndim, 1);
  EXPECT_EQ(q.sizes[0], 105);
  EXPECT_EQ(q.strides[2][0], 0);
}

TEST(MakePlan, TransposedDoesNotMerge) {
  // [5, 7] transposed: sizes [7, 5], strides [1, 7].
  const auto p = make_plan<1>({7, 5}, {Shape{1, 7}}, "t");
  EXPECT_EQ(p.ndim, 2);
  EXPECT_EQ(p.sizes[0], 7);
  EXPECT_EQ(p.sizes[1], 5);
  EXPECT_EQ(p.strides[0][0], 1);
  EXPECT_EQ(p.strides[0][1], 7);
  // The output is contiguous but the input is transposed: nothing merges.
  const auto q = make_plan<2>({3, 7, 5}, {Shape{35, 5, 1}, Shape{35, 1, 7}}, "t");
  EXPECT_EQ(q.ndim, 3);  // operand 0 alone would merge everything; operand 1 blocks both merges
  EXPECT_EQ(q.numel, 105);
  EXPECT_EQ(q.strides[1][1], 1);
  EXPECT_EQ(q.strides[1][2], 7);
}

TEST(MakePlan, PartialBroadcastMergesWherePossible) {
  // Operand 1 is [1, 5, 7] broadcast to [3, 5, 7]: dims 1 and 2 merge, dim 0 doesn't.
  const auto p = make_plan<2>({3, 5, 7}, {Shape{35, 7, 1}, Shape{0, 7, 1}}, "t");
  EXPECT_EQ(p.ndim, 2);
  EXPECT_EQ(p.sizes[0], 3);
  EXPECT_EQ(p.sizes[1], 35);
  EXPECT_EQ(p.strides[0][0], 35);
  EXPECT_EQ(p.strides[1][0], 0);
  EXPECT_EQ(p.strides[1][1], 1);
}

TEST(MakePlan, SizeOneDimsDropped) {
  // Size-1 dims are dropped whatever their strides; the rest is contiguous.
  const auto p = make_plan<1>({3, 1, 5, 1, 7}, {Shape{35, 999, 7, -3, 1}}, "t");
  EXPECT_EQ(p.ndim, 1);
  EXPECT_EQ(p.sizes[0], 105);
  const auto q = make_plan<1>({1, 1}, {Shape{4, 4}}, "t");
  EXPECT_EQ(q.ndim, 1);
  EXPECT_EQ(q.numel, 1);
  EXPECT_EQ(q.sizes[0], 1);
  const auto r = make_plan<1>({}, {Shape{}}, "t");
  EXPECT_EQ(r.ndim, 1);
  EXPECT_EQ(r.numel, 1);
  EXPECT_EQ(r.sizes[0], 1);
  int calls = 0;
  plan_for_range(r, 0, 1, [&](const int64_t* off, int64_t n) {
    ++calls;
    EXPECT_EQ(off[0], 0);
    EXPECT_EQ(n, 1);
  });
  EXPECT_EQ(calls, 1);
}

TEST(MakePlan, ZeroNumel) {
  for (const Shape& s : {Shape{0}, Shape{3, 0, 5}, Shape{0, 1}, Shape{4, 1, 0}}) {
    const auto p = make_plan<2>(s, {contiguous_strides(s), contiguous_strides(s)}, "t");
    EXPECT_EQ(p.numel, 0);
    int64_t product = 1;
    for (int d = 0; d < p.ndim; ++d) product *= p.sizes[d];
    EXPECT_EQ(product, 0) << test::str(s);
    int calls = 0;
    plan_for_range(p, 0, p.numel, [&](const int64_t*, int64_t) { ++calls; });
    EXPECT_EQ(calls, 0);
  }
}

TEST(MakePlan, TooManyDimsThrows) {
  // 17 dims of size 2 whose strides never merge (powers of 3).
  Shape s(17, 2), st(17);
  int64_t v = 1;
  for (int d = 16; d >= 0; --d, v *= 3) st[d] = v;
  EXPECT_THROW(make_plan<1>(s, {st}, "t"), ValueError);
  Shape s16(16, 2), st16(st.begin() + 1, st.end());
  EXPECT_NO_THROW(make_plan<1>(s16, {st16}, "t"));
}

// ---------------------------------------------------------------------------------------------
// plan_for_range against naive multi-index offsets
// ---------------------------------------------------------------------------------------------

struct Case {
  Shape shape;
  std::array<Shape, 3> strides;  // contiguous, permuted/sliced, broadcast
};

// A random shape of 1-6 dims (sizes 1-6) and three operands: contiguous, a strided view
// (permuted dims and a step), and a broadcast operand with stride 0 in some dims.
Case random_case(std::mt19937& rng) {
  std::uniform_int_distribution<int> nd_dist(1, 6), sz_dist(1, 6), coin(0, 2), step_dist(1, 3);
  Case c;
  const int nd = nd_dist(rng);
  for (int d = 0; d < nd; ++d) c.shape.push_back(sz_dist(rng));
  c.strides[0] = contiguous_strides(c.shape);
  // Operand 1: strides of a permutation of a larger buffer, with a random step per dim.
  std::vector<int> perm(nd);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  Shape st1(nd);
  int64_t s = 1;
  for (int k = nd - 1; k >= 0; --k) {
    const int d = perm[k];
    const int64_t step = step_dist(rng);
    st1[d] = s * step;
    s *= c.shape[d] * step;
  }
  c.strides[1] = st1;
  // Operand 2: broadcast from a shape with some dims set to 1 (stride 0 there).
  Shape small = c.shape;
  for (int d = 0; d < nd; ++d)
    if (coin(rng) == 0) small[d] = 1;
  c.strides[2] = broadcast_strides(small, contiguous_strides(small), c.shape, "t");
  return c;
}

void check_range(const Case& c, const StridedPlan<3>& p, int64_t begin, int64_t end) {
  int64_t i = begin;
  int64_t visited = 0;
  plan_for_range(p, begin, end, [&](const int64_t* off, int64_t n) {
    ASSERT_GT(n, 0);
    for (int64_t j = 0; j < n; ++j, ++i, ++visited) {
      ASSERT_LT(i, end);
      const Shape idx = test::unravel(i, c.shape);
      for (int k = 0; k < 3; ++k) {
        const int64_t want = test::elem_offset(idx, c.strides[k]);
        const int64_t got = off[k] + j * p.strides[k][p.ndim - 1];
        ASSERT_EQ(got, want) << "operand " << k << " element " << i << " shape " << test::str(c.shape);
      }
    }
  });
  EXPECT_EQ(visited, end - begin);
  EXPECT_EQ(i, end);
}

TEST(PlanForRange, WholeRangeMatchesNaiveOffsets) {
  std::mt19937 rng(1234);
  for (int t = 0; t < 300; ++t) {
    const Case c = random_case(rng);
    const auto p = make_plan<3>(c.shape, c.strides, "t");
    ASSERT_EQ(p.numel, test::numel_of(c.shape));
    check_range(c, p, 0, p.numel);
    if (HasFatalFailure()) return;
  }
}

TEST(PlanForRange, SubRangesMatchNaiveOffsets) {
  std::mt19937 rng(99);
  for (int t = 0; t < 300; ++t) {
    const Case c = random_case(rng);
    const auto p = make_plan<3>(c.shape, c.strides, "t");
    std::uniform_int_distribution<int64_t> pos(0, p.numel);
    for (int r = 0; r < 5; ++r) {
      int64_t b = pos(rng), e = pos(rng);
      if (b > e) std::swap(b, e);
      check_range(c, p, b, e);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(PlanForRange, EmptyRangeCallsNothing) {
  const auto p = make_plan<1>({3, 5}, {Shape{5, 1}}, "t");
  int calls = 0;
  plan_for_range(p, 7, 7, [&](const int64_t*, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(PlanForRange, RunsNeverCrossRows) {
  // Transposed [4, 6] -> [6, 4]: inner dim 4; the range [3, 10) is three runs: 1, 4, 2.
  const auto p = make_plan<1>({6, 4}, {Shape{1, 6}}, "t");
  ASSERT_EQ(p.ndim, 2);
  std::vector<int64_t> runs, starts;
  plan_for_range(p, 3, 10, [&](const int64_t* off, int64_t n) {
    runs.push_back(n);
    starts.push_back(off[0]);
  });
  EXPECT_EQ(runs, (std::vector<int64_t>{1, 4, 2}));
  EXPECT_EQ(starts, (std::vector<int64_t>{18, 1, 2}));  // (0,3)->18, (1,0)->1, (2,0)->2
}

TEST(PlanParallelFor, EveryElementOnceWithTwoThreads) {
  test::ThreadGuard threads(2);
  std::mt19937 rng(7);
  for (int t = 0; t < 20; ++t) {
    const Case c = random_case(rng);
    // Make it big enough to be split: prepend a dim.
    Case big = c;
    const int64_t lead = std::max<int64_t>(2, 60001 / test::numel_of(c.shape));
    big.shape.insert(big.shape.begin(), lead);
    big.strides[0] = contiguous_strides(big.shape);
    big.strides[1].insert(big.strides[1].begin(), 0);  // broadcast along the new dim
    big.strides[2].insert(big.strides[2].begin(), 0);
    const auto p = make_plan<3>(big.shape, big.strides, "t");
    std::vector<std::atomic<int>> hits(static_cast<size_t>(p.numel));
    for (auto& h : hits) h.store(0);
    std::atomic<bool> bad{false};
    plan_parallel_for(p, 1024, [&](const int64_t* off, int64_t n) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t o = off[0] + j * p.strides[0][p.ndim - 1];  // operand 0 is contiguous: o == i
        const Shape idx = test::unravel(o, big.shape);
        if (off[2] + j * p.strides[2][p.ndim - 1] != test::elem_offset(idx, big.strides[2])) bad = true;
        if (off[1] + j * p.strides[1][p.ndim - 1] != test::elem_offset(idx, big.strides[1])) bad = true;
        hits[o].fetch_add(1);
      }
    });
    EXPECT_FALSE(bad.load());
    for (int64_t i = 0; i < p.numel; ++i) ASSERT_EQ(hits[i].load(), 1) << "element " << i;
  }
}

}  // namespace
}  // namespace lamina
