#pragma once
/// \file
/// Parameter updates of the stochastic methods: inexact SGD (main paper Algorithm 2.1,
/// theta <- theta - alpha z) and inexact Adam (Kingma & Ba on the inexact hypergradients).
/// The regularizer's set_params applies its constraints after each update.

#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/core/views.hpp>

namespace bilevel {

/// \brief theta <- theta - alpha z.
template <class ExecSpace, class Theta, class Z>
void sgd_update(const ExecSpace& space, const Theta& theta, const Z& z, double alpha) {
  require(theta.extent(0) == z.extent(0), "bilevel::sgd_update: theta has ", theta.extent(0),
          " entries, the hypergradient ", z.extent(0));
  using Scalar = typename Theta::non_const_value_type;
  Kokkos::parallel_for(
      "bilevel::optim::sgd", Kokkos::RangePolicy<ExecSpace>(space, 0, theta.extent(0)),
      KOKKOS_LAMBDA(std::int64_t k) { theta(k) -= Scalar(alpha) * z(k); });
}

/// \brief out <- theta - alpha z, evaluated in double and rounded once (MAID's trial points,
/// which leave theta itself untouched).
template <class ExecSpace, class Out, class Theta, class Z>
void sgd_step_into(const ExecSpace& space, const Out& out, const Theta& theta, const Z& z,
                   double alpha) {
  require(out.extent(0) == theta.extent(0) && theta.extent(0) == z.extent(0),
          "bilevel::sgd_step_into: output, theta and hypergradient differ in length (",
          out.extent(0), ", ", theta.extent(0), ", ", z.extent(0), ")");
  using Scalar = typename Out::non_const_value_type;
  Kokkos::parallel_for(
      "bilevel::optim::sgd_trial", Kokkos::RangePolicy<ExecSpace>(space, 0, out.extent(0)),
      KOKKOS_LAMBDA(std::int64_t k) { out(k) = Scalar(double(theta(k)) - alpha * double(z(k))); });
}

/// \brief Adam's moments (first m, second v) and step count, on the device.
template <class Scalar, class MemorySpace = DefaultMemSpace>
struct AdamState {
  Kokkos::View<Scalar*, MemorySpace> m, v;
  long steps = 0;
  AdamState() = default;
  explicit AdamState(std::int64_t n) : m("bilevel::adam::m", n), v("bilevel::adam::v", n) {}
};

/// \brief Adam settings (defaults of Kingma & Ba).
struct AdamOptions {
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
};

/// \brief One Adam step with step size alpha: bias-corrected moments, theta <- theta - alpha
/// m_hat / (sqrt(v_hat) + epsilon).
template <class ExecSpace, class Theta, class Z, class Scalar, class Mem>
void adam_update(const ExecSpace& space, const Theta& theta, const Z& z,
                 AdamState<Scalar, Mem>& state, double alpha, const AdamOptions& o = {}) {
  require(theta.extent(0) == z.extent(0) && theta.extent(0) == state.m.extent(0),
          "bilevel::adam_update: theta, hypergradient and moments differ in length (",
          theta.extent(0), ", ", z.extent(0), ", ", state.m.extent(0), ")");
  state.steps += 1;
  const double c1 = 1 - std::pow(o.beta1, double(state.steps));
  const double c2 = 1 - std::pow(o.beta2, double(state.steps));
  const auto m = state.m, v = state.v;
  Kokkos::parallel_for(
      "bilevel::optim::adam", Kokkos::RangePolicy<ExecSpace>(space, 0, theta.extent(0)),
      KOKKOS_LAMBDA(std::int64_t k) {
        const double g = z(k);
        const double mk = o.beta1 * double(m(k)) + (1 - o.beta1) * g;
        const double vk = o.beta2 * double(v(k)) + (1 - o.beta2) * g * g;
        m(k) = Scalar(mk), v(k) = Scalar(vk);
        theta(k) -= Scalar(alpha * (mk / c1) / (math::sqrt(vk / c2) + o.epsilon));
      });
}

}  // namespace bilevel
