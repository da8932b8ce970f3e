// Errors. Every entry point checks its arguments before touching memory and throws one of these;
// the bindings map them to Python's ValueError, TypeError, IndexError and RuntimeError.
//
//   LAMINA_CHECK(a.dim() == 2, ValueError, "matmul", "argument 'input' must be 2-D, got shape ", a.sizes());
//
// gives  ValueError: lamina.matmul: argument 'input' must be 2-D, got shape [3, 4, 5]
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lamina {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ValueError : Error { using Error::Error; };
struct TypeError : Error { using Error::Error; };
struct IndexError : Error { using Error::Error; };
struct RuntimeError : Error { using Error::Error; };

inline std::ostream& operator<<(std::ostream& os, const std::vector<int64_t>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  return os << ']';
}

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
template <typename E>
[[noreturn]] void throw_error(const char* op, const std::string& msg) {
  throw E(std::string("lamina.") + op + ": " + msg);
}
}  // namespace detail
}  // namespace lamina

#define LAMINA_CHECK(cond, Kind, op, ...)                                                  \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      ::lamina::detail::throw_error<::lamina::Kind>(op, ::lamina::detail::concat(__VA_ARGS__)); \
    }                                                                                      \
  } while (0)

#define LAMINA_FAIL(Kind, op, ...) \
  ::lamina::detail::throw_error<::lamina::Kind>(op, ::lamina::detail::concat(__VA_ARGS__))
