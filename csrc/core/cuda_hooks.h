// The CUDA runtime as the core sees it. Implemented by csrc/cuda/runtime.cu when Lamina is built
// with CUDA, and by csrc/core/cuda_stub.cpp otherwise (where every call that needs a GPU throws
// a RuntimeError saying why CUDA is not available, and device_count() is 0).
#pragma once
#include <cstddef>
#include <string>

#include "core/allocator.h"

namespace lamina::cuda {

bool is_built();
// Number of devices the runtime sees (0 without a driver or GPU; never throws).
int device_count();
// Why CUDA cannot be used here ("" when it can).
std::string unavailable_reason();
std::string device_name(int device);
// Throws RuntimeError naming `op` unless CUDA is built and `device` exists.
void check_device(int device, const char* op);

DataPtr allocate(size_t nbytes, int device);
MemoryStats memory_stats(int device);
void reset_peak_memory_stats(int device);
void empty_cache();

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device);
void synchronize(int device);

}  // namespace lamina::cuda
