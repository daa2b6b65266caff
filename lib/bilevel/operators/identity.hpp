#pragma once
/// \file
/// A = I: denoising.

#include <bilevel/operators/forward_operator.hpp>

namespace bilevel {

/// \brief The identity: y = x + n.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class IdentityOperator final : public ForwardOperator<Scalar, ExecSpace> {
 public:
  using Base = ForwardOperator<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;

  void apply(const ExecSpace& space, const ConstImages& x, const MutImages& y) const override {
    copy(space, x, y, "bilevel::IdentityOperator::apply");
  }
  void adjoint(const ExecSpace& space, const ConstImages& y, const MutImages& x) const override {
    copy(space, y, x, "bilevel::IdentityOperator::adjoint");
  }
  void normal(const ExecSpace& space, const ConstImages& x, const MutImages& out) const override {
    copy(space, x, out, "bilevel::IdentityOperator::normal");
  }
  double normal_min_eigenvalue() const override { return 1.0; }
  double normal_norm() const override { return 1.0; }
  std::string name() const override { return "identity"; }

 private:
  static void copy(const ExecSpace& space, const ConstImages& from, const MutImages& to,
                   const char* where) {
    require_same_shape(where, from, to);
    Kokkos::deep_copy(space, to, from);
  }
};

}  // namespace bilevel
