#pragma once
/// \file
/// Smoothed total variation (talk slides, first example; DESIGN.md section 3.1):
///   R(x) = alpha sum_{c, i, j} sqrt(|D x (c, i, j)|^2 + nu^2),   theta = (log alpha, log nu),
/// with forward differences D x = (x(i, j+1) - x(i, j), x(i+1, j) - x(i, j)), zero on the last
/// column / row (Neumann boundary). Each channel is its own TV term.

#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/regularizers/impl/pixel_ops.hpp>
#include <bilevel/regularizers/regularizer.hpp>
#include <cmath>

namespace bilevel {

namespace impl {
/// Forward differences of x at (n, c, i, j).
template <class View>
KOKKOS_INLINE_FUNCTION void forward_differences(const View& x, int n, int c, int i, int j, int h,
                                                int w, double& dh, double& dv) {
  const double v = x(n, c, i, j);
  dh = j + 1 < w ? double(x(n, c, i, j + 1)) - v : 0.0;
  dv = i + 1 < h ? double(x(n, c, i + 1, j)) - v : 0.0;
}
/// (D^T p)(n, c, i, j) for a field p = (ph, pv) that is zero-weighted on the boundary.
template <class View>
KOKKOS_INLINE_FUNCTION double difference_adjoint(const View& ph, const View& pv, int n, int c,
                                                 int i, int j, int h, int w) {
  double out = 0;
  if (j > 0) out += ph(n, c, i, j - 1);
  if (j + 1 < w) out -= ph(n, c, i, j);
  if (i > 0) out += pv(n, c, i - 1, j);
  if (i + 1 < h) out -= pv(n, c, i, j);
  return out;
}
}  // namespace impl

/// \brief Smoothed TV with learnable weight alpha and smoothing nu (both in log form).
template <class Scalar, class ExecSpace = DefaultExecSpace>
class SmoothedTV final : public Regularizer<Scalar, ExecSpace> {
 public:
  using Base = Regularizer<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;
  using typename Base::Params;
  using typename Base::Selection;
  using typename Base::Sums;

  /// TV for `channels`-channel images, initialised to alpha = 0.05, nu = 0.01.
  explicit SmoothedTV(const ExecSpace& space, int channels) {
    this->define_blocks(channels, {{"log_alpha", {1}}, {"log_nu", {1}}});
    initialize(space, 0);
  }

  std::string name() const override { return "tv"; }

  /// Deterministic (the seed is unused): alpha = 0.05, nu = 0.01.
  void initialize(const ExecSpace& space, std::uint64_t) override { set(space, 0.05, 0.01); }

  /// Sets alpha and nu directly.
  void set(const ExecSpace& space, double alpha, double nu) {
    require(alpha > 0 && nu > 0, "bilevel::tv::set: alpha and nu must be positive, got ", alpha,
            " and ", nu);
    this->Base::set_params(space,
                           std::vector<Scalar>{Scalar(std::log(alpha)), Scalar(std::log(nu))});
  }
  double alpha() const { return m_alpha; }
  double nu() const { return m_nu; }

  /// \brief TV's scratch: the vector field D^T acts on, and the mixed product's two sums.
  struct Workspace final : Base::Workspace {
    MutImages field_h, field_v;  ///< horizontal and vertical components
    Kokkos::View<double*, typename ExecSpace::memory_space> sums;
  };
  std::unique_ptr<typename Base::Workspace> make_workspace() const override {
    return std::make_unique<Workspace>();
  }

  // The hooks below launch kernels, and nvcc requires a function that encloses an extended
  // lambda to be public: callers use the checked public calls of the base class instead.
 public:
  void evaluate(const ExecSpace& space, const ConstImages& x, const Sums& out, const MutImages& g,
                const Selection&, typename Base::Workspace& ws) const override {
    const Shape s = shape_of(x);
    const double alpha = m_alpha, nu2 = m_nu * m_nu;
    if (out.data() != nullptr)
      impl::sample_sums(
          "bilevel::tv::energy", space, s,
          KOKKOS_LAMBDA(int n, int c, int i, int j) {
            double dh, dv;
            impl::forward_differences(x, n, c, i, j, s.h, s.w, dh, dv);
            return alpha * math::sqrt(dh * dh + dv * dv + nu2);
          },
          out);
    if (g.data() == nullptr) return;
    auto& w = fields(ws, s);
    const auto ph = w.field_h, pv = w.field_v;
    impl::for_each_pixel(
        "bilevel::tv::normalised_gradient", space, s,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          double dh, dv;
          impl::forward_differences(x, n, c, i, j, s.h, s.w, dh, dv);
          const double r = math::sqrt(dh * dh + dv * dv + nu2);
          ph(n, c, i, j) = Scalar(dh / r);
          pv(n, c, i, j) = Scalar(dv / r);
        });
    apply_difference_adjoint(space, w, g);
  }

  void apply_hessian(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                     const MutImages& hv, typename Base::Workspace& ws) const override {
    const Shape s = shape_of(x);
    auto& w = fields(ws, s);
    const auto ph = w.field_h, pv = w.field_v;
    const double nu2 = m_nu * m_nu;
    // Hess of sqrt(|g|^2 + nu^2) in g is (I - g g^T / r^2) / r.
    impl::for_each_pixel(
        "bilevel::tv::hessian_field", space, s,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          double gh, gv, dh, dv;
          impl::forward_differences(x, n, c, i, j, s.h, s.w, gh, gv);
          impl::forward_differences(v, n, c, i, j, s.h, s.w, dh, dv);
          const double r2 = gh * gh + gv * gv + nu2, r = math::sqrt(r2);
          const double proj = (gh * dh + gv * dv) / r2;
          ph(n, c, i, j) = Scalar((dh - gh * proj) / r);
          pv(n, c, i, j) = Scalar((dv - gv * proj) / r);
        });
    apply_difference_adjoint(space, w, hv);
  }

  /// grad R = alpha D^T(D x / r): d/dlog(alpha) is itself, d/dlog(nu) turns 1/r into
  /// -nu^2 / r^3.
  void compute_jacobian_vector_product(const ExecSpace& space, const ConstImages& x,
                                       const typename Base::ConstParams& t, const MutImages& out,
                                       typename Base::Workspace& ws) const override {
    const Shape s = shape_of(x);
    auto& w = fields(ws, s);
    const auto ph = w.field_h, pv = w.field_v;
    const double nu2 = m_nu * m_nu;
    impl::for_each_pixel(
        "bilevel::tv::jacobian_field", space, s,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          double dh, dv;
          impl::forward_differences(x, n, c, i, j, s.h, s.w, dh, dv);
          const double r2 = dh * dh + dv * dv + nu2, r = math::sqrt(r2);
          const double f = double(t(0)) / r - double(t(1)) * nu2 / (r2 * r);
          ph(n, c, i, j) = Scalar(dh * f);
          pv(n, c, i, j) = Scalar(dv * f);
        });
    apply_difference_adjoint(space, w, out);
  }

  void compute_mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                             const Params& dtheta, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    if (w.sums.data() == nullptr) w.sums = decltype(w.sums)("bilevel::tv::mixed_sums", 2);
    const Shape s = shape_of(x);
    const double nu2 = m_nu * m_nu;
    // <grad R, q> = alpha sum (g . Dq) / r: d/dlog(alpha) is itself; d/dlog(nu) brings
    // d(1/r)/dnu * nu = -nu^2 / r^3.
    const auto sums = w.sums;
    impl::multi_sum(
        "bilevel::tv::mixed_product", space, s, 2,
        KOKKOS_LAMBDA(int n, int c, int i, int j, double* acc) {
          double gh, gv, qh, qv;
          impl::forward_differences(x, n, c, i, j, s.h, s.w, gh, gv);
          impl::forward_differences(q, n, c, i, j, s.h, s.w, qh, qv);
          const double r2 = gh * gh + gv * gv + nu2, r = math::sqrt(r2);
          const double gq = gh * qh + gv * qv;
          acc[0] += gq / r;
          acc[1] -= nu2 * gq / (r2 * r);
        },
        sums);
    const double alpha = m_alpha;
    Kokkos::parallel_for(
        "bilevel::tv::mixed_store", Kokkos::RangePolicy<ExecSpace>(space, 0, 2),
        KOKKOS_LAMBDA(int k) { dtheta(k) = Scalar(alpha * sums(k)); });
  }

 public:  // kernels inside (see above)
  void update(const ExecSpace&) override {
    const auto theta = this->params_host();
    m_alpha = std::exp(double(theta[0]));
    m_nu = std::exp(double(theta[1]));
  }

  /// The workspace with its field buffers for batches of shape s.
  Workspace& fields(typename Base::Workspace& ws, const Shape& s) const {
    auto& w = this->template workspace_as<Workspace>(ws);
    this->ensure(w.field_h, "bilevel::tv::field_h", s);
    this->ensure(w.field_v, "bilevel::tv::field_v", s);
    return w;
  }

  void apply_difference_adjoint(const ExecSpace& space, const Workspace& w,
                                const MutImages& out) const {
    const Shape s = shape_of(out);
    const auto ph = w.field_h, pv = w.field_v;
    const double alpha = m_alpha;
    impl::for_each_pixel(
        "bilevel::tv::difference_adjoint", space, s,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          out(n, c, i, j) = Scalar(alpha * impl::difference_adjoint(ph, pv, n, c, i, j, s.h, s.w));
        });
  }

 private:
  double m_alpha = 0, m_nu = 0;
};

}  // namespace bilevel
