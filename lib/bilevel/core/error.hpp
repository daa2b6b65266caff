#pragma once
/// \file
/// Host-side error reporting. Kernels never throw; the public boundary checks its arguments and
/// throws bilevel::Error with one line naming the function and the offending values.

#include <sstream>
#include <stdexcept>
#include <string>

namespace bilevel {

/// \brief The library's exception: a one-line, human-readable description of what was wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace impl {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace impl

/// \brief Throws bilevel::Error built from the streamed parts when `condition` is false.
template <class... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) throw Error(impl::concat(parts...));
}

}  // namespace bilevel
