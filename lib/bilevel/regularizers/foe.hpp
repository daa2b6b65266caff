#pragma once
/// \file
/// Field of Experts (SSVM paper eq. 13, talk slides; DESIGN.md section 3.2):
///   R(x) = sum_j beta_j sum_{pixels} psi_nu((c_j * x)),   psi_nu(z) = sqrt(z^2 + nu^2) - nu,
/// with J zero-mean k x k filters c_j over all C channels, beta_j = exp(theta), nu = exp(theta).
/// theta blocks: "filters" (J, C, k, k) stored (effective = stored minus its mean),
/// "log_beta" (J), "log_nu" (1). J = 10, k = 7, C = 3 gives 1,481 parameters.

#include <bilevel/core/blas1.hpp>
#include <bilevel/potentials/smoothed_l1.hpp>
#include <bilevel/regularizers/impl/filter_bank.hpp>
#include <bilevel/regularizers/impl/pixel_ops.hpp>

namespace bilevel {

/// \brief Field of Experts regularizer with a shared smoothed-l1 potential.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class FieldOfExperts final : public Regularizer<Scalar, ExecSpace> {
 public:
  using Base = Regularizer<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;
  using typename Base::Params;
  using typename Base::Selection;
  using typename Base::Sums;
  using memory_space = typename ExecSpace::memory_space;

  /// J filters of size k x k on `channels`-channel images, seeded initialisation.
  FieldOfExperts(const ExecSpace& space, int channels, int filters = 10, int kernel_size = 7,
                 std::uint64_t seed = 0)
      : m_bank(filters, channels, kernel_size, true), m_beta("bilevel::foe::beta", filters) {
    this->define_blocks(channels,
                        {{"filters", m_bank.shape()}, {"log_beta", {filters}}, {"log_nu", {1}}});
    initialize(space, seed);
  }

  std::string name() const override { return "foe"; }

  /// Zero-mean Xavier-normal filters, beta_j = 0.05, nu = 0.01.
  void initialize(const ExecSpace& space, std::uint64_t seed) override {
    m_bank.initialize_xavier(space, this->m_theta, 0, seed);
    const auto theta = this->m_theta;
    const std::int64_t ob = this->block("log_beta").offset, on = this->block("log_nu").offset;
    const int j = m_bank.out_channels();
    Kokkos::parallel_for(
        "bilevel::foe::init_scalars", Kokkos::RangePolicy<ExecSpace>(space, 0, j + 1),
        KOKKOS_LAMBDA(int t) {
          if (t < j)
            theta(ob + t) = Scalar(math::log(0.05));
          else
            theta(on) = Scalar(math::log(0.01));
        });
    update(space);
  }

  /// \brief The FoE's scratch, one buffer per quantity.
  struct Workspace final : Base::Workspace {
    MutImages responses;  ///< z = W x, then beta psi'(z) (gradient, mixed product)
    MutImages direction;  ///< W v (Hessian product) or W q (mixed product), then their fields
    Filters<Scalar, memory_space> filter_gradient;  ///< of the effective filters
    Kokkos::View<double*, memory_space> sums;       ///< dL/dlog beta_j, dL/dlog nu / nu
    typename impl::FilterBank<Scalar, ExecSpace>::Direction filter_direction;  ///< dK of J t
    MutImages input_tangent;  ///< dK^T (beta psi'(z))
  };
  std::unique_ptr<typename Base::Workspace> make_workspace() const override {
    return std::make_unique<Workspace>();
  }

  // The hooks below launch kernels, and nvcc requires a function that encloses an extended
  // lambda to be public: callers use the checked public calls of the base class instead.
 public:
  void evaluate(const ExecSpace& space, const ConstImages& x, const Sums& out, const MutImages& g,
                const Selection&, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    filter_responses(space, x, w);
    const auto z = w.responses;
    const auto beta = m_beta;
    const SmoothedL1<Scalar> psi{Scalar(m_nu)};
    if (out.data() != nullptr)
      impl::sample_sums(
          "bilevel::foe::energy", space, shape_of(z),
          KOKKOS_LAMBDA(int n, int c, int i, int j) {
            return double(beta(c) * psi.value(z(n, c, i, j)));
          },
          out);
    if (g.data() == nullptr) return;
    // g = W^T (beta psi'(z)).
    impl::for_each_pixel(
        "bilevel::foe::potential_derivative", space, shape_of(z),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          z(n, c, i, j) = beta(c) * psi.d1(z(n, c, i, j));
        });
    m_bank.op().adjoint(space, z, g);
  }

  void apply_hessian(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                     const MutImages& hv, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    filter_responses(space, x, w);
    m_bank.op().forward(space, v, w.direction);
    const auto z = w.responses, t = w.direction;
    const auto beta = m_beta;
    const SmoothedL1<Scalar> psi{Scalar(m_nu)};
    impl::for_each_pixel(
        "bilevel::foe::potential_curvature", space, shape_of(z),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          t(n, c, i, j) *= beta(c) * psi.d2(z(n, c, i, j));
        });
    m_bank.op().adjoint(space, t, hv);
  }

  /// grad R = K^T (beta psi'(K x)), so J t = dK^T (beta psi'(z)) + K^T (beta (t_beta psi'(z) +
  /// psi''(z) dK x + nu t_nu d psi'(z) / d nu)) for the direction's filters dK.
  void compute_jacobian_vector_product(const ExecSpace& space, const ConstImages& x,
                                       const typename Base::ConstParams& t, const MutImages& out,
                                       typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    this->ensure(w.input_tangent, "bilevel::foe::input_tangent", shape_of(x));
    m_bank.set_direction(space, t, 0, w.filter_direction);
    filter_responses(space, x, w);
    w.filter_direction.op.forward(space, x, w.direction);  // dK x
    const auto z = w.responses, dz = w.direction;
    const auto beta = m_beta;
    const SmoothedL1<Scalar> psi{Scalar(m_nu)};
    const std::int64_t ob = this->block("log_beta").offset, on = this->block("log_nu").offset;
    const double nu = m_nu;
    impl::for_each_pixel(
        "bilevel::foe::jacobian_fields", space, shape_of(z),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar zz = z(n, c, i, j);
          const double field = double(t(ob + c)) * psi.d1(zz) +
                               double(psi.d2(zz)) * dz(n, c, i, j) +
                               nu * double(t(on)) * psi.d1_dnu(zz);
          dz(n, c, i, j) = Scalar(beta(c) * field);
          z(n, c, i, j) = beta(c) * psi.d1(zz);
        });
    m_bank.op().adjoint(space, dz, out);
    w.filter_direction.op.adjoint(space, z, w.input_tangent);
    axpby(space, Scalar(1), w.input_tangent, Scalar(1), out);
  }

  void compute_mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                             const Params& dtheta, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    if (w.sums.data() == nullptr) {
      w.filter_gradient = m_bank.make_gradient("bilevel::foe::filter_gradient");
      w.sums = Kokkos::View<double*, memory_space>("bilevel::foe::sums",
                                                   std::size_t(m_bank.out_channels() + 1));
    }
    filter_responses(space, x, w);
    m_bank.op().forward(space, q, w.direction);  // t = W q
    const auto z = w.responses, t = w.direction;
    const auto beta = m_beta;
    const SmoothedL1<Scalar> psi{Scalar(m_nu)};
    const Shape zs = shape_of(z);
    // <grad R, q> = sum beta psi'(z) t: its theta-derivatives, before z is overwritten.
    const auto sums = w.sums;
    impl::channel_sums(
        "bilevel::foe::dlog_beta", space, zs,
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          return double(psi.d1(z(n, c, i, j)) * t(n, c, i, j));
        },
        Kokkos::subview(sums, std::make_pair(0, zs.c)));
    impl::multi_sum(
        "bilevel::foe::dlog_nu", space, zs, 1,
        KOKKOS_LAMBDA(int n, int c, int i, int j, double* acc) {
          acc[0] += double(beta(c) * psi.d1_dnu(z(n, c, i, j)) * t(n, c, i, j));
        },
        Kokkos::subview(sums, std::make_pair(zs.c, zs.c + 1)));
    // Filter derivative: d/dK <beta psi'(K x), K q> = (beta psi''(z) t) (x) x + (beta psi'(z)) (x)
    // q.
    impl::for_each_pixel(
        "bilevel::foe::mixed_fields", space, zs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar zz = z(n, c, i, j);
          t(n, c, i, j) *= beta(c) * psi.d2(zz);
          z(n, c, i, j) = beta(c) * psi.d1(zz);
        });
    conv2d_filter_gradient(space, x, t, w.filter_gradient);
    conv2d_filter_gradient(space, q, z, w.filter_gradient, Scalar(1));
    m_bank.store_gradient(space, w.filter_gradient, dtheta, 0);
    const std::int64_t ob = this->block("log_beta").offset, on = this->block("log_nu").offset;
    const double nu = m_nu;
    const int nj = zs.c;
    Kokkos::parallel_for(
        "bilevel::foe::mixed_store", Kokkos::RangePolicy<ExecSpace>(space, 0, nj + 1),
        KOKKOS_LAMBDA(int c) {
          if (c < nj)
            dtheta(ob + c) = Scalar(beta(c) * sums(c));
          else
            dtheta(on) = Scalar(nu * sums(nj));
        });
  }

 public:
  /// Effective (zero-mean) filters (J, C, k, k).
  const Filters<Scalar, memory_space>& filters() const { return m_bank.filters(); }

 public:  // kernels inside (see above)
  void update(const ExecSpace& space) override {
    m_bank.update(space, this->m_theta, 0);
    const auto theta = this->m_theta;
    const auto beta = m_beta;
    const std::int64_t ob = this->block("log_beta").offset;
    Kokkos::parallel_for(
        "bilevel::foe::beta", Kokkos::RangePolicy<ExecSpace>(space, 0, beta.extent(0)),
        KOKKOS_LAMBDA(int c) { beta(c) = math::exp(theta(ob + c)); });
    Scalar log_nu;
    Kokkos::deep_copy(space, log_nu, Kokkos::subview(this->m_theta, this->block("log_nu").offset));
    space.fence();
    m_nu = std::exp(double(log_nu));
  }

 private:
  /// w.responses = W x (and the buffers for this batch shape).
  void filter_responses(const ExecSpace& space, const ConstImages& x, Workspace& w) const {
    const Shape zs{int(x.extent(0)), m_bank.out_channels(), int(x.extent(2)), int(x.extent(3))};
    this->ensure(w.responses, "bilevel::foe::responses", zs);
    this->ensure(w.direction, "bilevel::foe::direction", zs);
    m_bank.op().forward(space, x, w.responses);
  }

  impl::FilterBank<Scalar, ExecSpace> m_bank;
  Kokkos::View<Scalar*, memory_space> m_beta;
  double m_nu = 0.01;
};

}  // namespace bilevel
