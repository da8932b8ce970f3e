// Reductions on CUDA: sum, mean, var/std, amax/amin and arg max/min over the trailing `nreduce`
// dims of x (ops/reduce.h). Semantics: torch.sum/mean/var/std/amax/amin/max/argmax.
//
// Shape letters: a "row" is one output element; R is the number of elements reduced into it.
//
// Layout. Rows are cut into `nchunks` chunks of `chunk_len` elements. A group of G threads
// (G a power of two, 1..256) reduces one (row, chunk) item: each thread folds the elements
// lane, lane + G, ... of the chunk in order, then the group combines in a shared-memory tree.
// With one chunk per row the group writes the result; otherwise it writes a partial and a second
// kernel folds a row's partials in chunk order. Chunks are used only when there are few rows and
// many elements per row (a full reduction), so the GPU has enough blocks.
//
// Determinism. G, chunk_len and the grid depend only on the shape (not on the GPU model or its
// number of SMs), every fold runs in a fixed order and nothing uses atomics, so a given shape and
// input give bitwise the same result on every run and every GPU.
//
// Dtypes as on the CPU: float32, float64 and int64 inputs (bool is a TypeError); the result is
// stored in out's dtype. Accumulators: sum/mean of float32 and float64 in double, of int64 in
// int64; var/std
// in double with two passes (mean, then the sum of squared deviations), divided by
// max(0, R - correction), so R <= correction gives inf or nan as torch; amax/amin and the
// arg-reductions in the input type with NaN propagating (the first NaN wins the arg-reductions,
// and ties go to the lowest index).
#include <algorithm>
#include <limits>
#include <type_traits>

#include "cuda/loops.cuh"
#include "ops/reduce.h"

namespace lamina::cuda {
namespace {

constexpr int64_t kChunkTarget = 4096;   // elements per chunk when rows are split
constexpr int64_t kTargetItems = 1024;   // split rows while rows * chunks is below this
constexpr int64_t kMaxChunks = 1024;

// ---- reducers: identity, load of element j of row `row`, associative combine ----

template <typename T, typename A>
struct SumRed {
  using Acc = A;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc load(T v, int64_t, int64_t) const { return static_cast<Acc>(v); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
};

template <typename T>
struct SqDevRed {
  using Acc = double;
  const double* mean;  // one per row
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc load(T v, int64_t row, int64_t) const {
    const double d = static_cast<double>(v) - mean[row];
    return d * d;
  }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
};

template <typename T>
struct ExtremeRed {
  using Acc = T;
  bool is_min;
  __device__ Acc identity() const {
    if constexpr (std::is_floating_point_v<T>)
      return is_min ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
    else
      return is_min ? std::numeric_limits<T>::max() : std::numeric_limits<T>::lowest();
  }
  __device__ Acc load(T v, int64_t, int64_t) const { return v; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return is_min ? (b < a ? b : a) : (a < b ? b : a);
  }
};

template <typename T>
struct ArgAcc {  // plain data: it lives in __shared__ memory
  T v;
  int64_t i;  // index within the row; -1 for "no element yet"
};

template <typename T>
struct ArgRed {
  using Acc = ArgAcc<T>;
  bool is_min;
  __device__ Acc identity() const { return Acc{T(0), -1}; }
  __device__ Acc load(T v, int64_t, int64_t j) const { return Acc{v, j}; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    const bool a_wins = is_min ? (a.v < b.v) : (b.v < a.v);
    return a_wins ? a : b;
  }
};

// ---- finishers: write a row's result ----

template <typename A>
struct StoreSum {
  void* out;
  DType dtype;
  bool mean;
  int64_t R;
  __device__ void operator()(int64_t row, A acc) const {
    if (mean) store_as(out, dtype, row, static_cast<double>(acc) / static_cast<double>(R));
    else store_as(out, dtype, row, acc);
  }
};

struct StoreMeanScratch {
  double* mean;
  int64_t R;
  __device__ void operator()(int64_t row, double acc) const {
    mean[row] = acc / static_cast<double>(R);
  }
};

struct StoreVar {
  void* out;
  DType dtype;
  double divisor;
  bool take_sqrt;
  __device__ void operator()(int64_t row, double acc) const {
    const double v = acc / divisor;
    store_as(out, dtype, row, take_sqrt ? ::sqrt(v) : v);
  }
};

template <typename T>
struct StoreValue {
  void* out;
  DType dtype;
  __device__ void operator()(int64_t row, T acc) const { store_as(out, dtype, row, acc); }
};

template <typename T>
struct StoreArg {
  T* values;  // may be null
  int64_t* indices;
  __device__ void operator()(int64_t row, ArgAcc<T> acc) const {
    if (values != nullptr) values[row] = acc.v;
    indices[row] = acc.i;
  }
};

// ---- kernels ----

struct Geometry {
  StridedPlan<1> outer;  // kept dims
  StridedPlan<1> inner;  // reduced dims
  int64_t rows = 0, R = 0, nchunks = 1, chunk_len = 0;
  int group = 1;
  unsigned int grid = 1;
};

__device__ __forceinline__ int64_t offset_of(const StridedPlan<1>& p, int64_t i) {
  if (p.ndim == 1) return i * p.strides[0][0];
  int64_t off[1];
  plan_offsets(p, i, off);
  return off[0];
}

template <typename T, typename Red, typename Fin>
__global__ void reduce_rows_kernel(const T* x, Geometry g, Red red, typename Red::Acc* partial,
                                   Fin fin) {
  using Acc = typename Red::Acc;
  __shared__ Acc smem[kThreads];
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % g.group;
  const int per_block = kThreads / g.group;
  const int64_t items = g.rows * g.nchunks;
  for (int64_t first = static_cast<int64_t>(blockIdx.x) * per_block; first < items;
       first += static_cast<int64_t>(gridDim.x) * per_block) {
    const int64_t item = first + tid / g.group;
    const int64_t row = item / g.nchunks;
    Acc acc = red.identity();
    if (item < items) {
      const int64_t chunk = item - row * g.nchunks;
      const int64_t base = offset_of(g.outer, row);
      const int64_t j0 = chunk * g.chunk_len;
      const int64_t j1 = min(g.R, j0 + g.chunk_len);
      for (int64_t j = j0 + lane; j < j1; j += g.group)
        acc = red.combine(acc, red.load(x[base + offset_of(g.inner, j)], row, j));
    }
    smem[tid] = acc;
    __syncthreads();
    for (int s = g.group / 2; s > 0; s /= 2) {
      if (lane < s) smem[tid] = red.combine(smem[tid], smem[tid + s]);
      __syncthreads();
    }
    if (lane == 0 && item < items) {
      if (g.nchunks == 1) fin(row, smem[tid]);
      else partial[item] = smem[tid];
    }
    __syncthreads();  // smem is reused by the next items
  }
}

template <typename Red, typename Fin>
__global__ void combine_partials_kernel(const typename Red::Acc* partial, int64_t rows,
                                        int64_t nchunks, Red red, Fin fin) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < rows;
       row += step) {
    const typename Red::Acc* p = partial + row * nchunks;
    typename Red::Acc acc = p[0];
    for (int64_t c = 1; c < nchunks; ++c) acc = red.combine(acc, p[c]);
    fin(row, acc);
  }
}

// ---- host side ----

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

Geometry make_geometry(const Tensor& x, int64_t nreduce, const char* op) {
  LAMINA_CHECK(nreduce >= 0 && nreduce <= x.dim(), ValueError, op, "cannot reduce ", nreduce,
               " trailing dims of a ", x.dim(), "-d tensor");
  const size_t kept = static_cast<size_t>(x.dim() - nreduce);
  const Shape& sizes = x.sizes();
  const Shape& strides = x.strides();
  Geometry g;
  g.outer = make_plan<1>(Shape(sizes.begin(), sizes.begin() + kept),
                         {Shape(strides.begin(), strides.begin() + kept)}, op);
  g.inner = make_plan<1>(Shape(sizes.begin() + kept, sizes.end()),
                         {Shape(strides.begin() + kept, strides.end())}, op);
  g.rows = g.outer.numel;
  g.R = g.inner.numel;
  if (g.R > 0) {
    if (g.rows < kTargetItems && g.R >= 2 * kChunkTarget) {
      g.nchunks = std::min({ceil_div(g.R, kChunkTarget), ceil_div(kTargetItems, g.rows), kMaxChunks});
    }
    g.chunk_len = ceil_div(g.R, g.nchunks);
    g.nchunks = ceil_div(g.R, g.chunk_len);  // no empty chunk
  }
  // About 8 elements per thread, at most kThreads threads per item.
  const int64_t want = std::max<int64_t>(1, ceil_div(g.chunk_len, 8));
  while (g.group < kThreads && g.group < want) g.group *= 2;
  const int64_t items = g.rows * g.nchunks;
  const int64_t blocks = ceil_div(items, kThreads / g.group);
  g.grid = static_cast<unsigned int>(std::clamp<int64_t>(blocks, 1, int64_t(1) << 16));
  return g;
}

template <typename T, typename Red, typename Fin>
void run_reduce(const T* x, const Geometry& g, const Red& red, const Fin& fin, int device,
                const char* op) {
  if (g.rows == 0) return;
  using Acc = typename Red::Acc;
  const cudaStream_t stream = current_stream(device);
  DataPtr scratch;
  Acc* partial = nullptr;
  if (g.nchunks > 1) {
    scratch = allocate(static_cast<size_t>(g.rows * g.nchunks) * sizeof(Acc), device);
    partial = static_cast<Acc*>(scratch.get());
  }
  reduce_rows_kernel<T, Red, Fin><<<g.grid, kThreads, 0, stream>>>(x, g, red, partial, fin);
  LAMINA_CUDA_LAUNCH_CHECK(op);
  if (g.nchunks > 1) {
    combine_partials_kernel<Red, Fin><<<grid_for(g.rows), kThreads, 0, stream>>>(
        partial, g.rows, g.nchunks, red, fin);
    LAMINA_CUDA_LAUNCH_CHECK(op);
  }
  // `scratch` goes back to the cache here; the next user of the block is ordered after these
  // kernels on the same stream.
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Mean: return "mean";
    case ReduceOp::Var: return "var";
    case ReduceOp::Std: return "std";
    case ReduceOp::AMax: return "amax";
    case ReduceOp::AMin: return "amin";
  }
  return "reduce";
}

}  // namespace

void reduce(ReduceOp op, const Tensor& out, const Tensor& x, int64_t nreduce, int64_t correction) {
  const char* name = reduce_name(op);
  if (out.numel() == 0) return;
  check_store_dtype(out.dtype(), name);
  LAMINA_CHECK(out.is_contiguous(), ValueError, name, "CUDA kernel expects a contiguous output");
  const int device = out.device().index;
  DeviceGuard guard(device);
  const Geometry g = make_geometry(x, nreduce, name);
  LAMINA_CHECK(g.rows == out.numel(), ValueError, name, "output has ", out.numel(),
               " elements but the kept dims of ", x.sizes(), " hold ", g.rows);
  void* o = out.data_ptr();
  const DType odt = out.dtype();
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean:
      LAMINA_DISPATCH_NUMERIC(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        using A = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
        run_reduce(x.data<T>(), g, SumRed<T, A>{},
                   StoreSum<A>{o, odt, op == ReduceOp::Mean, g.R}, device, name);
      });
      return;
    case ReduceOp::Var:
    case ReduceOp::Std:
      LAMINA_DISPATCH_NUMERIC(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        DataPtr mean_mem = allocate(static_cast<size_t>(g.rows) * sizeof(double), device);
        double* mean = static_cast<double*>(mean_mem.get());
        run_reduce(x.data<T>(), g, SumRed<T, double>{}, StoreMeanScratch{mean, g.R}, device, name);
        const double divisor = static_cast<double>(std::max<int64_t>(0, g.R - correction));
        run_reduce(x.data<T>(), g, SqDevRed<T>{mean},
                   StoreVar{o, odt, divisor, op == ReduceOp::Std}, device, name);
      });
      return;
    case ReduceOp::AMax:
    case ReduceOp::AMin:
      LAMINA_CHECK(g.R > 0, ValueError, name, "cannot reduce over an empty dimension");
      LAMINA_DISPATCH_NUMERIC(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        run_reduce(x.data<T>(), g, ExtremeRed<T>{op == ReduceOp::AMin}, StoreValue<T>{o, odt},
                   device, name);
      });
      return;
  }
  LAMINA_FAIL(ValueError, "reduce", "unknown reduce op ", static_cast<int>(op));
}

void arg_reduce(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t nreduce,
                bool is_min) {
  const char* name = is_min ? "argmin" : "argmax";
  const Tensor& ref = indices.defined() ? indices : values;
  if (!ref.defined() || ref.numel() == 0) return;
  LAMINA_CHECK(indices.defined() && indices.dtype() == DType::Int64 && indices.is_contiguous(),
               ValueError, name, "CUDA kernel expects contiguous int64 indices");
  LAMINA_CHECK(!values.defined() || (values.dtype() == x.dtype() && values.is_contiguous()),
               ValueError, name, "CUDA kernel expects contiguous values of dtype ",
               dtype_name(x.dtype()));
  const int device = indices.device().index;
  DeviceGuard guard(device);
  const Geometry g = make_geometry(x, nreduce, name);
  LAMINA_CHECK(g.rows == indices.numel(), ValueError, name, "output has ", indices.numel(),
               " elements but the kept dims of ", x.sizes(), " hold ", g.rows);
  LAMINA_CHECK(g.R > 0, ValueError, name, "cannot reduce over an empty dimension");
  LAMINA_DISPATCH_NUMERIC(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    T* vals = values.defined() ? values.data<T>() : nullptr;
    run_reduce(x.data<T>(), g, ArgRed<T>{is_min}, StoreArg<T>{vals, indices.data<int64_t>()},
               device, name);
  });
}

}  // namespace lamina::cuda
