#pragma once
/// \file
/// Reproducible random numbers for noise and masks. A Kokkos pool hands generator states to
/// threads in an order that depends on the backend and on scheduling, so the same seed would
/// give other bits on OpenMP or CUDA. Instead each element gets its own Kokkos XorShift64
/// generator whose state is a SplitMix64 hash of (seed, sample id, element index): the same seed
/// gives the same bits on every backend and thread count, and a sample's noise does not depend on
/// which batch it is in.

#include <bilevel/core/kokkos_compat.hpp>

#include <Kokkos_Random.hpp>

#include <cstdint>

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
  std::uint64_t state = splitmix64(splitmix64(seed) ^ splitmix64(sample_id * 0x2545F4914F6CDD1Dull ^ index));
  if (state == 0) state = 0x853C49E6748FEA9Bull;  // XorShift's one forbidden state
  return Kokkos::Random_XorShift64<typename ExecSpace::device_type>(state);
}

}  // namespace bilevel
