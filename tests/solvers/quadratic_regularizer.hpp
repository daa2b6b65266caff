#pragma once
// The quadratic bilevel problem of the talk slides, built from the library's own interfaces:
// R_theta(x) = sum_pixels (d . x - G theta)^2, A = I, xi = 0, so
//   x_hat(theta) = (y + d G theta) / (1 + d^2),
//   grad F(theta) = (1/N) sum_s 2 G^T (d / (1 + d^2) . (x_hat_s - x*_s)).

#include <bilevel/regularizers/regularizer.hpp>

#include "../test_utils.hpp"

namespace bilevel::test {

class QuadraticRegularizer final : public Regularizer<double> {
 public:
  using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;
  QuadraticRegularizer(const Shape& image, int p, unsigned seed)
      : m_shape(image),
        m_d("d", image.per_sample()),
        m_g("G", image.per_sample(), p),
        m_gt("G theta", image.per_sample()) {
    define_blocks(image.c, {{"theta", {p}}});
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> u(0.5, 2.0), v(-1, 1);
    auto hd = Kokkos::create_mirror_view(m_d);
    auto hg = Kokkos::create_mirror_view(m_g);
    for (std::size_t j = 0; j < hd.extent(0); ++j) hd(j) = u(gen);
    for (std::size_t k = 0; k < hg.span(); ++k) hg.data()[k] = v(gen);
    Kokkos::deep_copy(m_d, hd);
    Kokkos::deep_copy(m_g, hg);
    initialize(DefaultExecSpace(), seed);
  }
  std::string name() const override { return "quadratic"; }
  void initialize(const DefaultExecSpace& space, std::uint64_t) override {
    std::vector<double> th(num_params());
    for (std::size_t k = 0; k < th.size(); ++k) th[k] = 0.3 * (k + 1);
    set_params(space, th);
  }
  /// The closed-form solution and hypergradient for measurements y and clean images x*.
  void closed_form(const Images<double>& y, const Images<double>& clean, Images<double>& xhat,
                   std::vector<double>& grad, double& loss) const {
    auto hy = host_copy(y), hc = host_copy(clean);
    auto hd = host_copy(m_d), hgt = host_copy(m_gt);
    auto hg = host_copy(m_g);
    xhat = make_images<double>("xhat", shape_of(y));
    auto hx = Kokkos::create_mirror_view(xhat);
    const int n = int(y.extent(0)), p = int(hg.extent(1));
    const std::int64_t P = m_shape.per_sample();
    grad.assign(p, 0.0);
    loss = 0;
    for (int s = 0; s < n; ++s)
      for (std::int64_t j = 0; j < P; ++j) {
        const double dj = hd(j), yj = hy.data()[s * P + j], cj = hc.data()[s * P + j];
        const double xj = (yj + dj * hgt(j)) / (1 + dj * dj);
        hx.data()[s * P + j] = xj;
        loss += (xj - cj) * (xj - cj) / n;
        for (int k = 0; k < p; ++k) grad[k] += 2 * hg(j, k) * dj / (1 + dj * dj) * (xj - cj) / n;
      }
    Kokkos::deep_copy(xhat, hx);
  }

 public:  // kernels inside: nvcc requires the enclosing functions to be public
  void evaluate(const DefaultExecSpace&, const ConstImages& x, const Sums& out, const MutImages& g,
                const Selection&, Workspace&) const override {
    if (out.data() != nullptr) energy_of(x, out);
    if (g.data() != nullptr) gradient_of(x, g);
  }
  void energy_of(const ConstImages& x, const Sums& out) const {
    const auto rows = rows_of(x);
    const auto d = m_d, gt = m_gt;
    Kokkos::parallel_for(
        "quadratic::energy", x.extent(0), KOKKOS_LAMBDA(int s) {
          double acc = 0;
          for (std::size_t j = 0; j < d.extent(0); ++j) {
            const double r = d(j) * rows(s, j) - gt(j);
            acc += r * r;
          }
          out(s) = acc;
        });
  }
  void gradient_of(const ConstImages& x, const MutImages& g) const {
    const auto rows = rows_of(x);
    const auto gr = mut_rows(g);
    const auto d = m_d, gt = m_gt;
    Kokkos::parallel_for(
        "quadratic::gradient", x.extent(0), KOKKOS_LAMBDA(int s) {
          for (std::size_t j = 0; j < d.extent(0); ++j)
            gr(s, j) = 2 * d(j) * (d(j) * rows(s, j) - gt(j));
        });
  }
  void apply_hessian(const DefaultExecSpace&, const ConstImages&, const ConstImages& v,
                     const MutImages& hv, Workspace&) const override {
    const auto vr = rows_of(v);
    const auto hr = mut_rows(hv);
    const auto d = m_d;
    Kokkos::parallel_for(
        "quadratic::hvp", v.extent(0), KOKKOS_LAMBDA(int s) {
          for (std::size_t j = 0; j < d.extent(0); ++j) hr(s, j) = 2 * d(j) * d(j) * vr(s, j);
        });
  }
  // grad R = 2 d (d x - G theta), so J t = -2 d (G t).
  void compute_jacobian_vector_product(const DefaultExecSpace&, const ConstImages& x,
                                       const ConstParams& t, const MutImages& out,
                                       Workspace&) const override {
    const auto o = mut_rows(out);
    const auto d = m_d;
    const auto g = m_g;
    const int p = int(t.extent(0));
    Kokkos::parallel_for(
        "quadratic::jvp", x.extent(0), KOKKOS_LAMBDA(int s) {
          for (std::size_t j = 0; j < d.extent(0); ++j) {
            double gt = 0;
            for (int k = 0; k < p; ++k) gt += g(j, k) * t(k);
            o(s, j) = -2 * d(j) * gt;
          }
        });
  }
  void compute_mixed_product(const DefaultExecSpace&, const ConstImages&, const ConstImages& q,
                             const Params& dtheta, Workspace&) const override {
    const auto qr = rows_of(q);
    const auto d = m_d;
    const auto g = m_g;
    const int n = int(q.extent(0));
    Kokkos::parallel_for(
        "quadratic::mixed", dtheta.extent(0), KOKKOS_LAMBDA(int k) {
          double acc = 0;
          for (int s = 0; s < n; ++s)
            for (std::size_t j = 0; j < d.extent(0); ++j) acc += -2 * g(j, k) * d(j) * qr(s, j);
          dtheta(k) = acc;
        });
  }
  void update(const DefaultExecSpace&) override {
    const auto g = m_g;
    const auto gt = m_gt;
    const auto th = m_theta;
    Kokkos::parallel_for(
        "quadratic::update", gt.extent(0), KOKKOS_LAMBDA(int j) {
          double acc = 0;
          for (std::size_t k = 0; k < th.extent(0); ++k) acc += g(j, k) * th(k);
          gt(j) = acc;
        });
  }

 private:
  using Rows =
      Kokkos::View<const double**, Kokkos::LayoutRight, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using MutRows =
      Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  Rows rows_of(const ConstImages& x) const {
    return Rows(x.data(), x.extent(0), m_shape.per_sample());
  }
  MutRows mut_rows(const MutImages& x) const {
    return MutRows(x.data(), x.extent(0), m_shape.per_sample());
  }
  Shape m_shape;
  Kokkos::View<double*> m_d;
  Matrix m_g;
  Kokkos::View<double*> m_gt;
};

}  // namespace bilevel::test
