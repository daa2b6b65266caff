#pragma once
/// \file
/// A vector of Scalar lanes for host kernels that keep many accumulators live at once: one
/// register wide where the compiler targets AVX-512 (64 bytes), 32 bytes elsewhere (one AVX
/// register; two SSE or NEON registers). Wider than the registers, GCC keeps such vectors in
/// memory and the convolutions ran at 3% of an AVX2 core's peak.
///
/// Why: GCC vectorises a loop over an array of lanes, but keeps such arrays in memory when a
/// kernel has tens of them (each FMA then loads and stores its accumulator, and the stores
/// bound the speed). The compilers' vector extension (GCC, Clang; nvcc and hipcc hand host code
/// to them) is a value type that lives in a register. Elsewhere, and in device passes, Lanes is
/// a plain array with the same operations.

#include <bilevel/core/kokkos_compat.hpp>

#if (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDA_ARCH__) && \
    !defined(__HIP_DEVICE_COMPILE__) && !defined(__SYCL_DEVICE_ONLY__)
#define BILEVEL_HOST_VECTOR_EXTENSION 1
#endif

#if defined(__AVX512F__) || !defined(BILEVEL_HOST_VECTOR_EXTENSION)
#define BILEVEL_HOST_LANE_BYTES 64
#else
#define BILEVEL_HOST_LANE_BYTES 32
#endif

namespace bilevel::impl {

template <class Scalar>
struct Lanes {
  static constexpr int size = int(BILEVEL_HOST_LANE_BYTES / sizeof(Scalar));
#ifdef BILEVEL_HOST_VECTOR_EXTENSION
  typedef Scalar vector __attribute__((vector_size(BILEVEL_HOST_LANE_BYTES)));
  vector v;
  KOKKOS_INLINE_FUNCTION static Lanes zero() { return Lanes{vector{}}; }
  /// size consecutive values from any address (an unaligned load).
  KOKKOS_INLINE_FUNCTION static Lanes load(const Scalar* p) {
    Lanes r;
    __builtin_memcpy(&r.v, p, sizeof(vector));
    return r;
  }
  /// this += a * b, lane by lane.
  KOKKOS_INLINE_FUNCTION void fma(const Lanes& a, const Lanes& b) { v += a.v * b.v; }
  /// this += w * b (w broadcast).
  KOKKOS_INLINE_FUNCTION void fma(Scalar w, const Lanes& b) { v += w * b.v; }
  /// Writes the size lanes to p (any alignment).
  KOKKOS_INLINE_FUNCTION void store(Scalar* p) const { __builtin_memcpy(p, &v, sizeof(vector)); }
  /// Keeps this value in a register: GCC otherwise folds a loaded vector into each FMA that
  /// uses it as a memory operand, one load per use (the filter gradient's 4 uses of each input
  /// vector made it load-bound: 59 against 117 GFLOP/s).
  /// Only where one register holds the whole vector (AVX-512, AVX): with SSE or NEON GCC splits
  /// it over two registers, which no single asm operand can name.
#if defined(__AVX512F__) || defined(__AVX__)
  KOKKOS_INLINE_FUNCTION void pin() { __asm__("" : "+v"(v)); }
#else
  KOKKOS_INLINE_FUNCTION void pin() {}
#endif
#else
  Scalar v[size];
  KOKKOS_INLINE_FUNCTION static Lanes zero() {
    Lanes r;
    for (int l = 0; l < size; ++l) r.v[l] = Scalar(0);
    return r;
  }
  KOKKOS_INLINE_FUNCTION static Lanes load(const Scalar* p) {
    Lanes r;
    for (int l = 0; l < size; ++l) r.v[l] = p[l];
    return r;
  }
  KOKKOS_INLINE_FUNCTION void fma(const Lanes& a, const Lanes& b) {
    BILEVEL_SIMD
    for (int l = 0; l < size; ++l) v[l] += a.v[l] * b.v[l];
  }
  KOKKOS_INLINE_FUNCTION void fma(Scalar w, const Lanes& b) {
    BILEVEL_SIMD
    for (int l = 0; l < size; ++l) v[l] += w * b.v[l];
  }
  KOKKOS_INLINE_FUNCTION void store(Scalar* p) const {
    for (int l = 0; l < size; ++l) p[l] = v[l];
  }
  KOKKOS_INLINE_FUNCTION void pin() {}
#endif
  KOKKOS_INLINE_FUNCTION Scalar operator[](int l) const { return v[l]; }
  /// The lanes' sum in double, in lane order.
  KOKKOS_INLINE_FUNCTION double sum() const {
    double s = 0;
    for (int l = 0; l < size; ++l) s += double(v[l]);
    return s;
  }
};

}  // namespace bilevel::impl
