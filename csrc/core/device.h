// Where a tensor's memory lives: the host, or one CUDA device.
#pragma once
#include <string>

#include "core/errors.h"

namespace lamina {

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // always 0 for the CPU

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(t == DeviceType::CPU ? 0 : i) {}

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }

  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

  // Parses "cpu", "cuda", "cuda:N".
  static Device parse(const std::string& s) {
    if (s == "cpu") return Device(DeviceType::CPU);
    if (s == "cuda") return Device(DeviceType::CUDA, 0);
    if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9) {
      int idx = 0;
      for (size_t i = 5; i < s.size(); ++i) {
        LAMINA_CHECK(s[i] >= '0' && s[i] <= '9', ValueError, "device",
                     "expected 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
        idx = idx * 10 + (s[i] - '0');
      }
      return Device(DeviceType::CUDA, idx);
    }
    LAMINA_FAIL(ValueError, "device", "expected 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
  }
};

}  // namespace lamina
