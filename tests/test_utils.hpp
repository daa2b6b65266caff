#pragma once
// Helpers shared by the tests: scalar type lists, tolerances, temporary folders, host copies.

#include <gtest/gtest.h>

#include <bilevel/core/views.hpp>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace bilevel::test {

using Scalars = ::testing::Types<float, double>;

/// Relative tolerance for results accumulated over a few thousand terms.
template <class Scalar>
constexpr double tolerance() {
  return sizeof(Scalar) == 4 ? 1e-5 : 1e-12;
}

/// A fresh, empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    namespace fs = std::filesystem;
    std::random_device rd;
    m_path =
        fs::temp_directory_path() / ("bilevel-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  std::string path(const std::string& name = "") const { return (m_path / name).string(); }
  /// Names of the entries in the folder (hidden ones included), sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(m_path))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::filesystem::path m_path;
};

/// A batch filled with seeded uniform values in [lo, hi), made on the host and copied over.
template <class Scalar>
Images<Scalar> random_images(const Shape& s, unsigned seed, double lo = 0.0, double hi = 1.0) {
  auto x = make_images<Scalar>("test::random", s);
  auto h = Kokkos::create_mirror_view(x);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (std::size_t k = 0; k < h.span(); ++k) h.data()[k] = Scalar(u(gen));
  Kokkos::deep_copy(x, h);
  return x;
}

/// An independent host copy of any View (never an alias, even when v lives on the host).
template <class View>
auto host_copy(const View& v) {
  auto h = Kokkos::create_mirror(Kokkos::HostSpace(), v);
  Kokkos::deep_copy(h, v);
  return h;
}

/// Expects f() to throw bilevel::Error whose message contains `needle`.
template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected bilevel::Error containing '" << needle << "'";
  } catch (const bilevel::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

}  // namespace bilevel::test
