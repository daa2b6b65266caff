#pragma once
/// \file
/// The one place where Kokkos 3.4 and Kokkos 4.x differ for Bilevel. Everything else in the
/// library is written against the names defined here.

#include <Kokkos_Core.hpp>
#include <type_traits>

#if KOKKOS_VERSION >= 30700
#define BILEVEL_KOKKOS_MATH_NS Kokkos
#else
// Kokkos 3.4 keeps the mathematical functions in Kokkos::Experimental.
#define BILEVEL_KOKKOS_MATH_NS Kokkos::Experimental
#endif

/// BILEVEL_SIMD before an innermost host loop asks the compiler to vectorise exactly that loop
/// (OpenMP SIMD, enabled by -fopenmp-simd without any OpenMP runtime). Left out of device
/// passes, where a loop of lanes is one thread's serial work anyway.
#if defined(_OPENMP) || defined(BILEVEL_OPENMP_SIMD)
#if !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && !defined(__SYCL_DEVICE_ONLY__)
#define BILEVEL_SIMD _Pragma("omp simd")
#endif
#endif
#ifndef BILEVEL_SIMD
#define BILEVEL_SIMD
#endif

namespace bilevel {
/// \brief Device-callable math, forwarded to Kokkos' overloads for float and double.
namespace math {
#define BILEVEL_MATH_UNARY(NAME)            \
  template <class T>                        \
  KOKKOS_INLINE_FUNCTION auto NAME(T x) {   \
    return BILEVEL_KOKKOS_MATH_NS::NAME(x); \
  }
BILEVEL_MATH_UNARY(sqrt)
BILEVEL_MATH_UNARY(exp)
BILEVEL_MATH_UNARY(log)
BILEVEL_MATH_UNARY(log1p)
BILEVEL_MATH_UNARY(expm1)
BILEVEL_MATH_UNARY(log10)
BILEVEL_MATH_UNARY(fabs)
BILEVEL_MATH_UNARY(tanh)
BILEVEL_MATH_UNARY(cos)
BILEVEL_MATH_UNARY(sin)
#undef BILEVEL_MATH_UNARY

template <class T>
KOKKOS_INLINE_FUNCTION bool isfinite(T x) {
  return BILEVEL_KOKKOS_MATH_NS::isfinite(x);
}
template <class T>
KOKKOS_INLINE_FUNCTION T min(T a, T b) {
  return a < b ? a : b;
}
template <class T>
KOKKOS_INLINE_FUNCTION T max(T a, T b) {
  return a < b ? b : a;
}
}  // namespace math

/// \brief True when ExecSpace runs on the host (Serial, OpenMP, Threads, HPX): kernels then walk
/// contiguous blocks so the compiler vectorises; on GPUs consecutive threads take consecutive
/// elements so that loads coalesce.
template <class ExecSpace>
inline constexpr bool is_host_space_v =
    Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible;

/// \brief Scoped profiling region, visible in Kokkos Tools (same API in 3.4 and 4.x).
class ProfilingRegion {
 public:
  explicit ProfilingRegion(const char* name) { Kokkos::Profiling::pushRegion(name); }
  ~ProfilingRegion() { Kokkos::Profiling::popRegion(); }
  ProfilingRegion(const ProfilingRegion&) = delete;
  ProfilingRegion& operator=(const ProfilingRegion&) = delete;
};
}  // namespace bilevel
