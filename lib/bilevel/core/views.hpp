#pragma once
/// \file
/// The View types every part of Bilevel exchanges: image batches (N, C, H, W) and per-sample
/// scalars (N). LayoutRight is fixed on every backend so that one sample is one contiguous block
/// and width is the fastest index (vectorised on CPUs, coalesced on GPUs).

#include <bilevel/core/error.hpp>
#include <bilevel/core/kokkos_compat.hpp>
#include <cstdint>
#include <string>

namespace bilevel {

using DefaultExecSpace = Kokkos::DefaultExecutionSpace;
using DefaultMemSpace = DefaultExecSpace::memory_space;

/// \brief A batch of images, indexed (sample n, channel c, row i, column j), values in [0, 1].
template <class Scalar, class MemorySpace = DefaultMemSpace>
using Images = Kokkos::View<Scalar****, Kokkos::LayoutRight, MemorySpace>;

/// \brief One scalar per sample of a batch (step sizes, residual norms, losses, flags).
template <class Scalar, class MemorySpace = DefaultMemSpace>
using PerSample = Kokkos::View<Scalar*, MemorySpace>;

/// \brief Extents of an image batch.
struct Shape {
  int n = 0, c = 0, h = 0, w = 0;
  std::int64_t per_sample() const { return std::int64_t(c) * h * w; }
  std::int64_t size() const { return per_sample() * n; }
  friend bool operator==(const Shape& a, const Shape& b) {
    return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
  std::string str() const { return impl::concat("(", n, ", ", c, ", ", h, ", ", w, ")"); }
};

/// \brief The extents of a rank-4 View.
template <class View>
Shape shape_of(const View& x) {
  static_assert(View::rank == 4, "bilevel: an image batch is a rank-4 View (N, C, H, W)");
  return Shape{int(x.extent(0)), int(x.extent(1)), int(x.extent(2)), int(x.extent(3))};
}

/// \brief Allocates an uninitialised image batch; kernels write every element before reading.
template <class Scalar, class MemorySpace = DefaultMemSpace>
Images<Scalar, MemorySpace> make_images(const std::string& label, const Shape& s) {
  require(s.n >= 0 && s.c > 0 && s.h > 0 && s.w > 0, "make_images('", label, "'): invalid shape ",
          s.str());
  return Images<Scalar, MemorySpace>(Kokkos::view_alloc(Kokkos::WithoutInitializing, label), s.n,
                                     s.c, s.h, s.w);
}

/// \brief Throws unless `a` and `b` have the same extents; `where` names the calling function.
template <class A, class B>
void require_same_shape(const char* where, const A& a, const B& b) {
  require(shape_of(a) == shape_of(b), where, ": image batches differ in shape, ", shape_of(a).str(),
          " vs ", shape_of(b).str());
}

/// \brief Throws unless `v` has one entry per sample of a batch of `n`.
template <class V>
void require_per_sample(const char* where, const V& v, int n) {
  static_assert(V::rank == 1, "bilevel: per-sample values are a rank-1 View");
  require(int(v.extent(0)) == n, where, ": per-sample View '", v.label(), "' has ", v.extent(0),
          " entries for a batch of ", n);
}

}  // namespace bilevel
