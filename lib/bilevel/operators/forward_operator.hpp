#pragma once
/// \file
/// The forward operator A of the lower-level data term ||A x - y||^2 (DESIGN.md section 2).
/// A host-side interface (virtual dispatch happens on the host only; every operator launches
/// its own kernels), so solvers take any operator and adding one never touches them.

#include <bilevel/core/views.hpp>
#include <string>

namespace bilevel {

/// \brief A linear operator on image batches with its adjoint. Measurements have the shape of
/// the images (denoising, inpainting and deblurring all keep the image size).
template <class Scalar, class ExecSpace = DefaultExecSpace>
class ForwardOperator {
 public:
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;
  using MutImages = Images<Scalar, memory_space>;

  virtual ~ForwardOperator() = default;

  /// y = A x.
  virtual void apply(const ExecSpace& space, const ConstImages& x, const MutImages& y) const = 0;
  /// x = A^T y.
  virtual void adjoint(const ExecSpace& space, const ConstImages& y, const MutImages& x) const = 0;
  /// out = A^T A x (the data term's Hessian is 2 A^T A). `out` may not alias `x`.
  virtual void normal(const ExecSpace& space, const ConstImages& x, const MutImages& out) const = 0;

  /// A lower bound on the smallest eigenvalue of A^T A: the data term alone makes the
  /// lower-level problem 2 lambda_min-strongly convex (1 for denoising, 0 for a mask or blur).
  virtual double normal_min_eigenvalue() const = 0;
  /// An upper bound on ||A^T A|| (the data term's gradient is 2 ||A^T A||-Lipschitz).
  virtual double normal_norm() const = 0;
  /// Whether the noise is added before A (inpainting: y = M (x + n)) or after (y = A x + n).
  virtual bool noise_before_operator() const { return false; }
  /// Short name for logs and checkpoints ("identity", "mask", "blur").
  virtual std::string name() const = 0;
};

}  // namespace bilevel
