#pragma once
/// \file
/// Reproducible random numbers for noise and masks. A Kokkos pool hands generator states to
/// threads in an order that depends on the backend and on scheduling, so the same seed would
/// give other bits on OpenMP or CUDA. Instead each element gets its own Kokkos XorShift64
/// generator whose state is a SplitMix64 hash of (seed, sample id, element index): the same seed
/// gives the same bits on every backend and thread count, and a sample's noise does not depend on
/// which batch it is in.

#include <Kokkos_Random.hpp>
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

/// \brief The generator for element `index` of sample `sample_id` under `seed`.
template <class ExecSpace>
KOKKOS_INLINE_FUNCTION Kokkos::Random_XorShift64<typename ExecSpace::device_type> keyed_generator(
    std::uint64_t seed, std::uint64_t sample_id, std::uint64_t index) {
  std::uint64_t state =
      splitmix64(splitmix64(seed) ^ splitmix64(sample_id * 0x2545F4914F6CDD1Dull ^ index));
  if (state == 0) state = 0x853C49E6748FEA9Bull;  // XorShift's one forbidden state
  return Kokkos::Random_XorShift64<typename ExecSpace::device_type>(state);
}

}  // namespace bilevel

namespace bilevel {
/// \brief `count` standard normal numbers for host-side initialisation, identical on every
/// platform (SplitMix64 stream and Box-Muller; std::normal_distribution is not portable).
inline std::vector<double> host_normals(std::uint64_t seed, std::size_t count) {
  std::vector<double> out(count);
  std::uint64_t state = splitmix64(seed ^ 0x5EEDull);
  auto uniform = [&state] {  // in (0, 1]
    state = splitmix64(state);
    return (double(state >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  };
  for (std::size_t k = 0; k < count; k += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform())), phi = 6.283185307179586 * uniform();
    out[k] = r * std::cos(phi);
    if (k + 1 < count) out[k + 1] = r * std::sin(phi);
  }
  return out;
}
}  // namespace bilevel
