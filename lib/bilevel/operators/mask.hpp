#pragma once
/// \file
/// A = M, a pixel mask: inpainting (DESIGN.md section 2). M(n, i, j) ~ Bernoulli(p) keeps a
/// pixel (all its channels) with probability p; the mask of a sample is drawn from the keyed
/// generator of its sample id, so data generation and solves agree and runs are reproducible.

#include <bilevel/core/random.hpp>
#include <bilevel/core/sample_blocks.hpp>
#include <bilevel/operators/forward_operator.hpp>

namespace bilevel {

/// \brief Elementwise multiplication by a 0/1 pixel mask of shape (N, 1, H, W). Self-adjoint;
/// A^T A = M.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class MaskOperator final : public ForwardOperator<Scalar, ExecSpace> {
 public:
  using Base = ForwardOperator<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;

  /// Uses the given mask (N, 1, H, W), values 0 or 1.
  explicit MaskOperator(const MutImages& mask) : m_mask(mask) {
    require(mask.extent(1) == 1, "bilevel::MaskOperator: the mask has ", mask.extent(1),
            " channels, expected 1 (one value per pixel)");
  }

  /// Draws a Bernoulli(keep_probability) mask for `batch`'s samples, sample s keyed by
  /// `first_sample_id + s`.
  static MaskOperator bernoulli(const ExecSpace& space, const Shape& batch, double keep_probability,
                                std::uint64_t seed, std::uint64_t first_sample_id = 0) {
    require(keep_probability > 0 && keep_probability <= 1,
            "bilevel::MaskOperator: keep probability must be in (0, 1], got ", keep_probability);
    auto mask = make_images<Scalar, typename ExecSpace::memory_space>(
        "bilevel::mask", {batch.n, 1, batch.h, batch.w});
    const auto rows = impl::as_rows(mask);
    const double p = keep_probability;
    const std::uint64_t mask_seed = splitmix64(seed ^ 0x6D61736B);  // independent of the noise
    Kokkos::parallel_for(
        "bilevel::mask::bernoulli",
        Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>(
            space, {0, 0}, {std::int64_t(batch.n), std::int64_t(rows.extent(1))}),
        KOKKOS_LAMBDA(std::int64_t s, std::int64_t j) {
          auto gen = keyed_stream(mask_seed, first_sample_id + std::uint64_t(s), std::uint64_t(j));
          rows(s, j) = gen.uniform() < p ? Scalar(1) : Scalar(0);
        });
    return MaskOperator(mask);
  }

  void apply(const ExecSpace& space, const ConstImages& x, const MutImages& y) const override {
    multiply(space, x, y, "bilevel::MaskOperator::apply");
  }
  void adjoint(const ExecSpace& space, const ConstImages& y, const MutImages& x) const override {
    multiply(space, y, x, "bilevel::MaskOperator::adjoint");
  }
  void normal(const ExecSpace& space, const ConstImages& x, const MutImages& out) const override {
    multiply(space, x, out, "bilevel::MaskOperator::normal");  // M^T M = M for a 0/1 mask
  }
  double normal_min_eigenvalue() const override { return 0.0; }
  double normal_norm() const override { return 1.0; }
  bool noise_before_operator() const override { return true; }
  std::string name() const override { return "mask"; }

  /// The mask (N, 1, H, W).
  const MutImages& mask() const { return m_mask; }

 public:  // a kernel inside: nvcc requires the enclosing function to be public
  void multiply(const ExecSpace& space, const ConstImages& in, const MutImages& out,
                const char* where) const {
    require_same_shape(where, in, out);
    require(in.extent(0) == m_mask.extent(0) && in.extent(2) == m_mask.extent(2) &&
                in.extent(3) == m_mask.extent(3),
            where, ": images ", shape_of(in).str(), " do not fit the mask ",
            shape_of(m_mask).str());
    const auto m = m_mask;
    Kokkos::parallel_for(
        "bilevel::mask::multiply",
        Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<4>>(
            space, {0, 0, 0, 0},
            {std::int64_t(in.extent(0)), std::int64_t(in.extent(1)), std::int64_t(in.extent(2)),
             std::int64_t(in.extent(3))}),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          out(n, c, i, j) = m(n, 0, i, j) * in(n, c, i, j);
        });
  }

 private:
  MutImages m_mask;
};

}  // namespace bilevel
