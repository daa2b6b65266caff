#pragma once
/// \file
/// Reproducible random numbers for noise and masks. A Kokkos pool hands generator states to
/// threads in an order that depends on the backend and on scheduling, so the same seed would
/// give other bits on OpenMP or CUDA; and Kokkos' own generators changed between versions
/// (Random_XorShift64::normal() is Marsaglia's polar method in Kokkos 3.4, Box-Muller in 4.x), so
/// the same seed gave other training data on another Kokkos. Instead each element owns a
/// counter-based stream: a SplitMix64 hash of (seed, sample id, element index) advanced by
/// SplitMix64 steps, with Box-Muller for normals, all in double. The same seed gives the same
/// bits on every host backend, thread count and Kokkos version, and a sample's noise does not
/// depend on which batch it is in (GPUs agree up to the last bit of their log and cos).

#include <bilevel/core/kokkos_compat.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

namespace bilevel {

/// \brief SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
KOKKOS_INLINE_FUNCTION std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// \brief A short random stream owned by one element: uniforms in (0, 1] and standard normals.
struct KeyedStream {
  std::uint64_t state;
  /// Uniform in (0, 1]: the top 53 bits of the next SplitMix64 value.
  KOKKOS_INLINE_FUNCTION double uniform() {
    state = splitmix64(state);
    return (double(state >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  }
  /// Standard normal by Box-Muller (one of the pair; the stream is per element).
  KOKKOS_INLINE_FUNCTION double normal() {
    const double r = math::sqrt(-2.0 * math::log(uniform()));
    return r * math::cos(6.283185307179586 * uniform());
  }
};

/// \brief The stream of element `index` of sample `sample_id` under `seed`.
KOKKOS_INLINE_FUNCTION KeyedStream keyed_stream(std::uint64_t seed, std::uint64_t sample_id,
                                                std::uint64_t index) {
  return KeyedStream{
      splitmix64(splitmix64(seed) ^ splitmix64(sample_id * 0x2545F4914F6CDD1Dull ^ index))};
}

}  // namespace bilevel

namespace bilevel {
/// \brief `count` standard normal numbers for host-side initialisation, identical on every
/// platform (SplitMix64 stream and Box-Muller; std::normal_distribution is not portable).
inline std::vector<double> host_normals(std::uint64_t seed, std::size_t count) {
  std::vector<double> out(count);
  KeyedStream stream{splitmix64(seed ^ 0x5EEDull)};
  for (std::size_t k = 0; k < count; k += 2) {  // both numbers of each Box-Muller pair
    const double r = std::sqrt(-2.0 * std::log(stream.uniform()));
    const double phi = 6.283185307179586 * stream.uniform();
    out[k] = r * std::cos(phi);
    if (k + 1 < count) out[k + 1] = r * std::sin(phi);
  }
  return out;
}
}  // namespace bilevel
