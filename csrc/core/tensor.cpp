#include "core/tensor.h"

#include <algorithm>
#include <sstream>

namespace lamina {

Tensor Tensor::empty(const Shape& sizes, DType dtype, Device device) {
  const int64_t n = checked_numel(sizes, "empty");
  const int64_t isz = lamina::itemsize(dtype);
  LAMINA_CHECK(n <= (int64_t(1) << 62) / isz, ValueError, "empty", "shape ", sizes,
               " is too large to allocate");
  auto st = std::make_shared<Storage>();
  st->nbytes = n * isz;
  st->device = device;
  st->data = allocate(static_cast<size_t>(st->nbytes), device);
  Tensor t;
  t.storage_ = std::move(st);
  t.sizes_ = sizes;
  t.strides_ = contiguous_strides(sizes);
  t.numel_ = n;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& sizes,
                            const Shape& strides, int64_t offset, DType dtype, const char* op) {
  Tensor base;
  base.storage_ = std::move(storage);
  base.dtype_ = dtype;
  base.sizes_ = {0};
  base.strides_ = {1};
  return base.as_strided(sizes, strides, offset);
}

int64_t Tensor::size(int64_t d) const {
  LAMINA_CHECK(dim() > 0, IndexError, "size", "a 0-d tensor has no dimension ", d);
  return sizes_[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
  LAMINA_CHECK(dim() > 0, IndexError, "stride", "a 0-d tensor has no dimension ", d);
  return strides_[wrap_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (sizes_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= sizes_[i];
  }
  return true;
}

std::string Tensor::describe() const {
  std::ostringstream os;
  os << dtype_name(dtype_) << sizes_ << " on " << device().str();
  return os.str();
}

Tensor Tensor::as_strided(const Shape& sizes, const Shape& strides, int64_t offset) const {
  const char* op = "as_strided";
  LAMINA_CHECK(defined(), RuntimeError, op, "tensor is undefined");
  LAMINA_CHECK(sizes.size() == strides.size(), ValueError, op, "sizes ", sizes, " and strides ",
               strides, " must have the same length");
  LAMINA_CHECK(sizes.size() <= 64, ValueError, op, "at most 64 dimensions are supported, got ",
               sizes.size());
  LAMINA_CHECK(offset >= 0, ValueError, op, "storage offset must be non-negative, got ", offset);
  const int64_t n = checked_numel(sizes, op);
  int64_t last = offset;  // largest element index reached
  for (size_t i = 0; i < sizes.size(); ++i) {
    LAMINA_CHECK(strides[i] >= 0, ValueError, op, "negative strides are not supported, got ", strides);
    if (n > 0 && sizes[i] > 1) {
      int64_t extent = 0;
      const bool overflow = __builtin_mul_overflow(sizes[i] - 1, strides[i], &extent) ||
                            __builtin_add_overflow(last, extent, &last);
      LAMINA_CHECK(!overflow, ValueError, op, "view with sizes ", sizes, ", strides ", strides,
                   " and offset ", offset, " overflows int64");
    }
  }
  const int64_t capacity = storage_->nbytes / lamina::itemsize(dtype_);
  LAMINA_CHECK(n == 0 || last < capacity, ValueError, op, "view with sizes ", sizes, ", strides ",
               strides, " and offset ", offset, " reaches element ", last,
               " but the storage holds ", capacity, " elements");
  Tensor t;
  t.storage_ = storage_;
  t.sizes_ = sizes;
  t.strides_ = strides;
  t.offset_ = offset;
  t.numel_ = n;
  t.dtype_ = dtype_;
  return t;
}

Tensor Tensor::permute(const Shape& dims) const {
  LAMINA_CHECK(static_cast<int64_t>(dims.size()) == dim(), ValueError, "permute",
               "number of dims in 'dims' (", dims.size(), ") does not match the tensor's (",
               dim(), ")");
  Shape s(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    LAMINA_CHECK(!seen[d], ValueError, "permute", "repeated dim in 'dims' ", dims);
    seen[d] = true;
    s[i] = sizes_[d];
    st[i] = strides_[d];
  }
  Tensor t = *this;
  t.sizes_ = s;
  t.strides_ = st;
  return t;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  Tensor t = *this;
  if (dim() == 0) return t;
  d0 = wrap_dim(d0, dim(), "transpose");
  d1 = wrap_dim(d1, dim(), "transpose");
  std::swap(t.sizes_[d0], t.sizes_[d1]);
  std::swap(t.strides_[d0], t.strides_[d1]);
  return t;
}

Tensor Tensor::expand(const Shape& sizes) const {
  const char* op = "expand";
  LAMINA_CHECK(sizes.size() >= sizes_.size(), ValueError, op, "the number of sizes provided (",
               sizes.size(), ") must be greater or equal to the number of dimensions in the tensor (",
               dim(), "), got ", sizes, " for shape ", sizes_);
  const size_t lead = sizes.size() - sizes_.size();
  Shape s(sizes.size()), st(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i < lead) {
      LAMINA_CHECK(sizes[i] >= 0, ValueError, op, "new leading dimensions cannot be -1, got ", sizes);
      s[i] = sizes[i];
      st[i] = 0;
    } else {
      const int64_t cur = sizes_[i - lead];
      const int64_t want = sizes[i] == -1 ? cur : sizes[i];
      LAMINA_CHECK(want == cur || cur == 1, ValueError, op, "the expanded size (", want,
                   ") must match the existing size (", cur, ") at non-singleton dimension ", i,
                   ": shape ", sizes_, " to ", sizes);
      LAMINA_CHECK(want >= 0, ValueError, op, "sizes must be non-negative, got ", sizes);
      s[i] = want;
      st[i] = (cur == 1 && want != 1) ? 0 : strides_[i - lead];
    }
  }
  return as_strided(s, st, offset_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Tensor t = *this;
  const int64_t st = d < dim() ? strides_[d] * sizes_[d] : 1;
  t.sizes_.insert(t.sizes_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, st);
  return t;
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) {
    wrap_dim(d, 0, "squeeze");
    return *this;
  }
  d = wrap_dim(d, dim(), "squeeze");
  if (sizes_[d] != 1) return *this;
  Tensor t = *this;
  t.sizes_.erase(t.sizes_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::squeeze_all() const {
  Tensor t = *this;
  t.sizes_.clear();
  t.strides_.clear();
  for (int64_t i = 0; i < dim(); ++i) {
    if (sizes_[i] != 1) {
      t.sizes_.push_back(sizes_[i]);
      t.strides_.push_back(strides_[i]);
    }
  }
  return t;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  LAMINA_CHECK(dim() > 0, IndexError, "narrow", "cannot narrow a 0-d tensor");
  d = wrap_dim(d, dim(), "narrow");
  if (start < 0) start += sizes_[d];
  LAMINA_CHECK(start >= 0 && start <= sizes_[d] && length >= 0 && length <= sizes_[d] - start, IndexError, "narrow",
               "start (", start, ") + length (", length, ") exceeds dimension size (", sizes_[d],
               ") of dim ", d);
  Shape s = sizes_;
  s[d] = length;
  return as_strided(s, strides_, offset_ + (length > 0 ? start * strides_[d] : 0));
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  LAMINA_CHECK(dim() > 0, IndexError, "select", "invalid index of a 0-dim tensor");
  d = wrap_dim(d, dim(), "select");
  const int64_t n = sizes_[d];
  LAMINA_CHECK(index >= -n && index < n, IndexError, "select", "index ", index,
               " is out of bounds for dimension ", d, " with size ", n);
  if (index < 0) index += n;
  Shape s = sizes_, st = strides_;
  const int64_t off = offset_ + index * strides_[d];
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, off);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t stop, int64_t step) const {
  LAMINA_CHECK(dim() > 0, IndexError, "slice", "cannot slice a 0-d tensor");
  d = wrap_dim(d, dim(), "slice");
  LAMINA_CHECK(step > 0, ValueError, "slice", "step must be greater than zero, got ", step);
  const int64_t n = sizes_[d];
  auto clampi = [n](int64_t v) {
    if (v < 0) v += n;
    return std::min<int64_t>(std::max<int64_t>(v, 0), n);
  };
  start = clampi(start);
  stop = clampi(stop);
  const int64_t len = stop > start ? (stop - start - 1) / step + 1 : 0;
  Shape s = sizes_, st = strides_;
  s[d] = len;
  // With two or more elements, stride * step is bounded by the storage, so it cannot overflow.
  st[d] = len > 1 ? strides_[d] * step : strides_[d];
  return as_strided(s, st, offset_ + (len > 0 ? start * strides_[d] : 0));
}

Shape Tensor::infer_size(const Shape& sizes, const char* op) const {
  Shape out = sizes;
  int64_t infer = -1, prod = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      LAMINA_CHECK(infer < 0, ValueError, op, "only one dimension can be inferred, got ", sizes);
      infer = static_cast<int64_t>(i);
    } else {
      LAMINA_CHECK(sizes[i] >= 0, ValueError, op, "invalid shape dimension ", sizes[i], " in ", sizes);
      prod *= sizes[i];
    }
  }
  if (infer >= 0) {
    LAMINA_CHECK(prod != 0 && numel_ % prod == 0, ValueError, op, "shape ", sizes,
                 " is invalid for input of size ", numel_);
    out[infer] = numel_ / prod;
  } else {
    LAMINA_CHECK(prod == numel_, ValueError, op, "shape ", sizes, " is invalid for input of size ",
                 numel_, " (shape ", sizes_, ")");
  }
  return out;
}

Tensor Tensor::view_if_possible(const Shape& sizes_in, const char* op) const {
  const Shape sizes = infer_size(sizes_in, op);
  if (is_contiguous()) return as_strided(sizes, contiguous_strides(sizes), offset_);
  if (numel_ == 0) return as_strided(sizes, contiguous_strides(sizes), offset_);
  // Walk chunks of the old shape that are contiguous among themselves and split/merge them.
  Shape new_strides(sizes.size());
  int64_t view_d = static_cast<int64_t>(sizes.size()) - 1;
  int64_t chunk_base_stride = strides_.empty() ? 1 : strides_.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = dim() - 1; td >= 0; --td) {
    tensor_numel *= sizes_[td];
    if (td == 0 || (sizes_[td - 1] != 1 && strides_[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || sizes[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return Tensor();
      if (td > 0) {
        chunk_base_stride = strides_[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return Tensor();
  return as_strided(sizes, new_strides, offset_);
}

}  // namespace lamina
