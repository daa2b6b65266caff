#pragma once
/// \file
/// Simulated measurements y = A x + n (or y = A (x + n) for operators that say so, as the
/// inpainting mask does), n ~ N(0, sigma^2 I) from the seeded keyed generator.

#include <bilevel/core/noise.hpp>
#include <bilevel/operators/forward_operator.hpp>

namespace bilevel {

/// \brief y = A clean + n, or A (clean + n); sample s draws noise as sample id
/// `first_sample_id + s`.
template <class Scalar, class ExecSpace, class Clean>
void simulate_measurement(const ExecSpace& space, const ForwardOperator<Scalar, ExecSpace>& op,
                          const Clean& clean, double sigma, std::uint64_t seed,
                          const Images<Scalar, typename ExecSpace::memory_space>& y,
                          std::uint64_t first_sample_id = 0) {
  require_same_shape("bilevel::simulate_measurement", clean, y);
  if (op.noise_before_operator()) {
    auto noisy = make_images<Scalar, typename ExecSpace::memory_space>(
        "bilevel::measurement::noisy", shape_of(clean));
    add_gaussian_noise(space, clean, sigma, seed, noisy, first_sample_id);
    op.apply(space, noisy, y);
  } else {
    op.apply(space, clean, y);
    add_gaussian_noise(space, y, sigma, seed, y, first_sample_id);
  }
}

}  // namespace bilevel
