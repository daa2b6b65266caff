#pragma once
/// \file
/// Additive white Gaussian noise, y = x + sigma n, n ~ N(0, I), reproducible from a seed.

#include <bilevel/core/random.hpp>
#include <bilevel/core/sample_blocks.hpp>
#include <bilevel/core/views.hpp>

namespace bilevel {

namespace impl {
template <class ExecSpace, class InRows, class OutRows>
struct GaussianNoiseRows {
  using Scalar = typename OutRows::non_const_value_type;
  InRows in;
  OutRows out;
  Scalar sigma;
  std::uint64_t seed, first_sample_id;
  struct Row {
    const Scalar* in;
    Scalar* out;
    Scalar sigma;
    std::uint64_t seed, sample_id;
    KOKKOS_INLINE_FUNCTION void operator()(std::int64_t j) const {
      auto gen = keyed_stream(seed, sample_id, std::uint64_t(j));
      out[j] = in[j] + sigma * Scalar(gen.normal());
    }
  };
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    return Row{&in(s, 0), &out(s, 0), sigma, seed, first_sample_id + std::uint64_t(s)};
  }
};
}  // namespace impl

/// \brief noisy = clean + sigma * N(0, 1), element by element. Sample s draws from the stream of
/// sample id `first_sample_id + s`, so a given image gets the same noise in any batch.
/// `noisy` may alias `clean`.
template <class ExecSpace, class Clean, class Noisy>
void add_gaussian_noise(const ExecSpace& space, const Clean& clean, double sigma,
                        std::uint64_t seed, const Noisy& noisy, std::uint64_t first_sample_id = 0) {
  require_same_shape("bilevel::add_gaussian_noise", clean, noisy);
  require(sigma >= 0 && math::isfinite(sigma),
          "bilevel::add_gaussian_noise: noise level must be finite and >= 0, got ", sigma);
  using Scalar = typename Noisy::non_const_value_type;
  const auto in = impl::as_rows(typename Noisy::const_type(clean));
  const auto out = impl::as_rows(noisy);
  impl::per_sample_for("bilevel::noise::gaussian", space,
                       impl::SampleBlocks<ExecSpace>(shape_of(clean)),
                       impl::GaussianNoiseRows<ExecSpace, decltype(in), decltype(out)>{
                           in, out, Scalar(sigma), seed, first_sample_id});
}

}  // namespace bilevel
