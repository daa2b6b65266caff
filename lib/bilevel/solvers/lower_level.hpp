#pragma once
/// \file
/// The lower-level objective of a batch (DESIGN.md section 1, main paper eq. 4.1b):
///   h_i(x, theta) = ||A x - y_i||^2 + R_theta(x) + (xi / 2) ||x||^2,
/// with value, gradient and Hessian-vector product per sample. h_i is mu-strongly convex with
/// mu = 2 lambda_min(A^T A) + xi, so ||x - x_hat_i|| <= ||grad h_i(x)|| / mu.

#include <bilevel/core/blas1.hpp>
#include <bilevel/operators/forward_operator.hpp>
#include <bilevel/regularizers/regularizer.hpp>
#include <cmath>
#include <memory>

namespace bilevel {

/// \brief h(x) = ||A x - y||^2 + R(x) + xi/2 ||x||^2 for a batch of measurements y.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class LowerLevelProblem {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;
  using MutImages = Images<Scalar, memory_space>;
  using Sums = PerSample<double, memory_space>;

  /// The operator and regularizer are referenced, not copied: they must outlive the problem.
  /// The problem evaluates R in its own workspace, so several problems can share one model.
  LowerLevelProblem(const ForwardOperator<Scalar, ExecSpace>& op,
                    Regularizer<Scalar, ExecSpace>& reg, const ConstImages& measurements,
                    double xi = 0.0)
      : m_op(&op),
        m_reg(&reg),
        m_y(measurements),
        m_xi(xi),
        m_residual(make_images<Scalar, memory_space>("bilevel::lower_level::residual",
                                                     shape_of(measurements))),
        m_tmp(
            make_images<Scalar, memory_space>("bilevel::lower_level::tmp", shape_of(measurements))),
        m_sums("bilevel::lower_level::sums", measurements.extent(0)),
        m_ridge("bilevel::lower_level::ridge", measurements.extent(0)),
        m_workspace(reg.make_workspace()) {
    require(xi >= 0 && std::isfinite(xi),
            "bilevel::LowerLevelProblem: xi must be finite and >= 0, got ", xi);
    require(mu() > 0, "bilevel::LowerLevelProblem: the problem is not strongly convex (operator '",
            op.name(), "' has lambda_min(A^T A) = 0 and xi = 0); set xi > 0");
  }

  /// Strong-convexity constant mu = 2 lambda_min(A^T A) + xi.
  double mu() const { return 2.0 * m_op->normal_min_eigenvalue() + m_xi; }
  double xi() const { return m_xi; }
  Shape shape() const { return shape_of(m_y); }
  const ConstImages& measurements() const { return m_y; }
  Regularizer<Scalar, ExecSpace>& regularizer() const { return *m_reg; }
  const ForwardOperator<Scalar, ExecSpace>& forward_operator() const { return *m_op; }

  /// value(s) = h_s(x).
  void value(const ExecSpace& space, const ConstImages& x, const Sums& value) {
    data_residual(space, x);
    norm2_squared(space, m_residual, value);
    m_reg->energy(space, x, m_sums, *m_workspace);
    add_regularizer_and_ridge(space, x, value);
  }

  /// value(s) = h_s(x) and g = grad h(x) = 2 A^T (A x - y) + grad R(x) + xi x.
  void value_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& value,
                          const MutImages& g) {
    require_same_shape("bilevel::LowerLevelProblem::value_and_gradient", x, g);
    evaluate(space, x, value, g, SampleSelection<memory_space>::every(int(x.extent(0))));
  }

  /// The same for the selected samples only; the others of value and g are left as they are
  /// (nmAPG's line search keeps the accepted samples' values there). Selected samples get the
  /// bits of the full evaluation.
  void value_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& value,
                          const MutImages& g, const SampleSelection<memory_space>& sel) {
    if (sel.all) return value_and_gradient(space, x, value, g);
    require_same_shape("bilevel::LowerLevelProblem::value_and_gradient", x, g);
    if (m_gsel.data() == nullptr) {  // once per problem: only solvers that select need it
      m_gsel =
          make_images<Scalar, memory_space>("bilevel::lower_level::selected_gradient", shape_of(g));
      m_vsel = Sums("bilevel::lower_level::selected_value", g.extent(0));
    }
    evaluate(space, x, m_vsel, m_gsel, sel);
    impl::copy_selected(space, m_vsel, value, sel);
    impl::copy_selected(space, m_gsel, g, sel);
  }

  /// hv = (2 A^T A + Hess R(x) + xi I) v.
  void hessian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                              const MutImages& hv) {
    m_reg->hessian_vector_product(space, x, v, hv, *m_workspace);
    add_data_and_ridge(space, v, hv);
  }

  /// Fixes x for prepared_hessian_vector_product (see Regularizer::prepare_hessian).
  void prepare_hessian(const ExecSpace& space, const ConstImages& x) {
    require_same_shape("bilevel::LowerLevelProblem::prepare_hessian", x, m_y);
    m_reg->prepare_hessian(space, x, *m_workspace);
  }
  /// hv = Hess h(x) v at the prepared x for the selected samples; the others of hv receive finite
  /// values that callers ignore.
  void prepared_hessian_vector_product(const ExecSpace& space, const ConstImages& v,
                                       const MutImages& hv,
                                       const SampleSelection<memory_space>& sel) {
    m_reg->prepared_hessian_vector_product(space, v, hv, sel, *m_workspace);
    add_data_and_ridge(space, v, hv);
  }

  /// The prepared Hessian as an operator for the linear solvers: op(space, in, out) on every
  /// sample, op(space, in, out, sel) on the selected ones.
  struct PreparedOperator {
    LowerLevelProblem* h;
    void operator()(const ExecSpace& space, const ConstImages& in, const MutImages& out) const {
      h->prepared_hessian_vector_product(space, in, out,
                                         SampleSelection<memory_space>::every(int(in.extent(0))));
    }
    void operator()(const ExecSpace& space, const ConstImages& in, const MutImages& out,
                    const SampleSelection<memory_space>& sel) const {
      h->prepared_hessian_vector_product(space, in, out, sel);
    }
  };
  PreparedOperator prepared_operator() { return PreparedOperator{this}; }

 private:
  /// value and g (the selected samples' are right, the others' unspecified).
  void evaluate(const ExecSpace& space, const ConstImages& x, const Sums& value, const MutImages& g,
                const SampleSelection<memory_space>& sel) {
    data_residual(space, x);
    norm2_squared(space, m_residual, value);
    m_reg->energy_and_gradient_selected(space, x, m_sums, g, sel, *m_workspace);
    add_regularizer_and_ridge(space, x, value);
    m_op->adjoint(space, m_residual, m_tmp);
    axpby(space, Scalar(2), m_tmp, Scalar(1), g);
    if (m_xi > 0) axpby(space, Scalar(m_xi), x, Scalar(1), g);
  }
  /// hv += 2 A^T A v + xi v.
  void add_data_and_ridge(const ExecSpace& space, const ConstImages& v, const MutImages& hv) {
    m_op->normal(space, v, m_tmp);
    axpby(space, Scalar(2), m_tmp, Scalar(1), hv);
    if (m_xi > 0) axpby(space, Scalar(m_xi), v, Scalar(1), hv);
  }
  void data_residual(const ExecSpace& space, const ConstImages& x) {
    require_same_shape("bilevel::LowerLevelProblem", x, m_y);
    m_op->apply(space, x, m_residual);
    axpby(space, Scalar(-1), m_y, Scalar(1), m_residual);
  }

 public:  // a kernel inside: nvcc requires the enclosing function to be public
  void add_regularizer_and_ridge(const ExecSpace& space, const ConstImages& x, const Sums& value) {
    const auto r = m_sums;
    if (m_xi > 0) norm2_squared(space, x, m_ridge);
    const auto ridge = m_ridge;
    const double half_xi = 0.5 * m_xi;
    Kokkos::parallel_for(
        "bilevel::lower_level::total", Kokkos::RangePolicy<ExecSpace>(space, 0, value.extent(0)),
        KOKKOS_LAMBDA(int s) { value(s) += r(s) + (half_xi > 0 ? half_xi * ridge(s) : 0.0); });
  }

 private:
  const ForwardOperator<Scalar, ExecSpace>* m_op;
  Regularizer<Scalar, ExecSpace>* m_reg;
  ConstImages m_y;
  double m_xi;
  MutImages m_residual, m_tmp, m_gsel;  // m_gsel, m_vsel: selected evaluations' scratch
  Sums m_sums, m_ridge, m_vsel;
  std::unique_ptr<typename Regularizer<Scalar, ExecSpace>::Workspace> m_workspace;  // R's scratch
};

}  // namespace bilevel
