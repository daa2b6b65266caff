#pragma once
/// \file
/// Convex ridge regularizer, CRR (main paper section 4.1; DESIGN.md section 3.3):
///   R(x) = sum_{channel, pixel} psi(exp(s) . W~ x),   W~ = W / sigma(W),
/// W = three zero-padded 5 x 5 convolutions C -> 4 -> 8 -> 64 without bias, every filter
/// reparametrised to zero mean (stored minus its mean) and initialised zero-mean Xavier normal;
/// s a per-channel log-scale (64); psi Huber or log-cosh with parameter beta (fixed).
///
/// sigma(W) is the largest singular value of W on a P x P image (P = `spectral_size`): the top
/// eigenvalue of W^T W by restarted Lanczos (solvers/lanczos.hpp), warm-started from the
/// previous singular vector, until ||W^T W v - lambda v|| <= spectral_tol * lambda. (Plain
/// power iteration, as in the paper, needs tens of thousands of steps here: the top of the
/// spectrum of a convolution is tightly clustered.) Its derivative dsigma = <u, dW v> (u, v the
/// singular vectors) is part of the exact mixed product. Zero padding makes the norm grow
/// slightly with the image size, so P defaults to the training crop size (64).
/// theta blocks: "filters1" (4, C, 5, 5), "filters2" (8, 4, 5, 5), "filters3" (64, 8, 5, 5),
/// "log_scale" (64): 13,964 parameters for colour images.

#include <bilevel/core/blas1.hpp>
#include <bilevel/potentials/ridge_potential.hpp>
#include <bilevel/regularizers/impl/conv_chain.hpp>
#include <bilevel/regularizers/impl/pixel_ops.hpp>
#include <bilevel/solvers/lanczos.hpp>
#include <cmath>
#include <memory>

namespace bilevel {

/// \brief Settings of a CRR (defaults as in the main paper's experiments).
struct CrrOptions {
  std::vector<int> channels{4, 8, 64};  ///< output channels of the layers
  int kernel_size = 5;
  RidgePotentialKind potential = RidgePotentialKind::huber;
  double beta = 100.0;                 ///< potential parameter (Huber kink at 1 / beta)
  double initial_scale = 1.0;          ///< exp(s) at initialisation
  int spectral_size = 64;              ///< P: power iteration on P x P images
  double spectral_tol = 1e-6;          ///< relative eigen-residual stopping Lanczos
  int spectral_max_iterations = 3000;  ///< operator applications per update at most
};

/// \brief Convex ridge regularizer with spectrally normalised multi-layer convolution.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class ConvexRidge final : public Regularizer<Scalar, ExecSpace> {
 public:
  using Base = Regularizer<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;
  using typename Base::Params;
  using typename Base::Sums;
  using memory_space = typename ExecSpace::memory_space;
  using Chain = impl::ConvChain<Scalar, ExecSpace>;

  ConvexRidge(const ExecSpace& space, int channels, const CrrOptions& opt = {},
              std::uint64_t seed = 0)
      : m_opt(opt),
        m_chain(layer_channels(channels, opt), opt.kernel_size),
        m_scale("bilevel::crr::scale", opt.channels.back()),
        m_sums("bilevel::crr::sums", opt.channels.back()),
        m_potential{opt.potential, Scalar(opt.beta)} {
    require(opt.beta > 0 && opt.initial_scale > 0 && opt.spectral_size > 0 && opt.spectral_tol > 0,
            "bilevel::crr: beta, initial scale, spectral size and tolerance must be positive");
    std::vector<ParamBlock> blocks;
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      blocks.push_back({"filters" + std::to_string(l + 1), m_chain.layer(l).shape()});
    blocks.push_back({"log_scale", {m_chain.out_channels()}});
    this->define_blocks(channels, blocks);
    initialize(space, seed);
  }

  std::string name() const override { return "crr"; }

  void initialize(const ExecSpace& space, std::uint64_t seed) override {
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      m_chain.layer(l).initialize_xavier(space, this->m_theta, filter_offset(l), seed + 7919 * l);
    Kokkos::deep_copy(space, scale_block(this->m_theta), Scalar(std::log(m_opt.initial_scale)));
    m_have_vector = false;
    update(space);
  }

  void energy(const ExecSpace& space, const ConstImages& x, const Sums& out) override {
    this->check_images("energy", x);
    const auto wx = m_chain.forward(space, x, m_ax);
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::sample_sums(
        "bilevel::crr::energy", space, shape_of(wx),
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          return double(psi.value(d(c) * wx(n, c, i, j)));
        },
        out);
  }

  void energy_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& out,
                           const MutImages& g) override {
    energy(space, x, out);  // leaves W x in m_ax
    gradient_from_responses(space, g);
  }

  void gradient(const ExecSpace& space, const ConstImages& x, const MutImages& g) override {
    this->check_images("gradient", x);
    require_same_shape("bilevel::crr::gradient", x, g);
    m_chain.forward(space, x, m_ax);
    gradient_from_responses(space, g);
  }

 private:
  /// g = W~^T (exp(s) psi'(exp(s) W~ x)) from W x held in m_ax.
  void gradient_from_responses(const ExecSpace& space, const MutImages& g) {
    const auto wx = m_ax.acts.back();
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::for_each_pixel(
        "bilevel::crr::potential_derivative", space, shape_of(wx),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wx(n, c, i, j) = d(c) * psi.d1(d(c) * wx(n, c, i, j));
        });
    m_chain.adjoint(space, wx, g, m_ax);
  }

 public:
  void hessian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                              const MutImages& hv) override {
    this->check_images("hessian_vector_product", x);
    require_same_shape("bilevel::crr::hessian_vector_product", x, v);
    require_same_shape("bilevel::crr::hessian_vector_product", x, hv);
    const auto wx = m_chain.forward(space, x, m_ax);
    const auto wv = m_chain.forward(space, v, m_aq, &m_ax);
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::for_each_pixel(
        "bilevel::crr::potential_curvature", space, shape_of(wx),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wv(n, c, i, j) *= d(c) * d(c) * psi.d2(d(c) * wx(n, c, i, j));
        });
    m_chain.adjoint(space, wv, hv, m_aq);
  }

  void mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                     const Params& dtheta) override {
    this->check_images("mixed_product", x);
    require_same_shape("bilevel::crr::mixed_product", x, q);
    this->require_params_view("mixed_product", dtheta);
    // L = <grad R(x), q> = sum D psi'(D wx) wq with D = exp(s) / sigma, wx = W x, wq = W q.
    const auto wx = m_chain.forward(space, x, m_ax);
    const auto wq = m_chain.forward(space, q, m_aq, &m_ax);
    const auto d = m_scale;
    const auto psi = m_potential;
    const Shape ws = shape_of(wx);
    // dL/ds_c = D_c dL/dD_c = sum (psi'(u) + psi''(u) u) D wq.
    impl::channel_sums(
        "bilevel::crr::dlog_scale", space, ws,
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          const Scalar u = d(c) * wx(n, c, i, j);
          return double((psi.d1(u) + psi.d2(u) * u) * d(c) * wq(n, c, i, j));
        },
        m_sums);
    // dL/d(wx) = D^2 psi''(u) wq and dL/d(wq) = D psi'(u), backpropagated to the filters.
    impl::for_each_pixel(
        "bilevel::crr::mixed_fields", space, ws,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = d(c) * wx(n, c, i, j);
          wx(n, c, i, j) = d(c) * d(c) * psi.d2(u) * wq(n, c, i, j);
          wq(n, c, i, j) = d(c) * psi.d1(u);
        });
    // wx / wq are the chains' last activations: backprop overwrites only the hidden scratch.
    m_chain.backprop_filters(space, x, wx, m_ax, Scalar(0));
    m_chain.backprop_filters(space, q, wq, m_aq, Scalar(1));
    // Through sigma: dL/dsigma = -(1/sigma) sum_c dL/ds_c, and dsigma/dK = d<u, W v>/dK.
    double ds_total = 0;
    {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_sums);
      for (std::size_t c = 0; c < h.extent(0); ++c) ds_total += h(c);
    }
    const double dl_dsigma = -ds_total / m_sigma;
    // u = W v / sigma: the output activation of the singular vector, kept in m_av.
    Kokkos::deep_copy(space, m_top, m_av.acts.back());
    axpby(space, Scalar(0), m_top, Scalar(dl_dsigma / m_sigma), m_top);
    m_chain.backprop_filters(space, m_v, m_top, m_av, Scalar(1));
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      m_chain.layer(l).store_gradient(space, dtheta, filter_offset(l));
    const auto sums = m_sums;
    const auto out = scale_block(dtheta);
    Kokkos::parallel_for(
        "bilevel::crr::store_dlog_scale", Kokkos::RangePolicy<ExecSpace>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(int c) { out(c) = Scalar(sums(c)); });
  }

  /// sigma(W) of the current filters (on P x P images).
  double spectral_norm() const { return m_sigma; }
  /// The last spectral-norm computation: operator applications, residual, convergence.
  const EigenResult& spectral_result() const { return m_spectral; }
  /// Applies the normalised operator W~ = exp(s)-free W / sigma to x (for tests and users).
  void apply_normalised(const ExecSpace& space, const ConstImages& x, const MutImages& y) {
    const auto& wx = m_chain.forward(space, x, m_ax);
    Kokkos::deep_copy(space, y, wx);
    axpby(space, Scalar(0), y, Scalar(1.0 / m_sigma), y);
  }
  const CrrOptions& options() const { return m_opt; }

  /// The Lanczos start vector of the last update (see Regularizer::internal_state).
  std::vector<double> internal_state() const override {
    if (m_v_start.data() == nullptr) return {};
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_v_start);
    return std::vector<double>(h.data(), h.data() + h.span());
  }
  void set_internal_state(const ExecSpace& space, const std::vector<double>& state) override {
    const int p = m_opt.spectral_size;
    const Shape vs{1, this->channels(), p, p};
    require(std::int64_t(state.size()) == vs.size(), "bilevel::crr: internal state has ",
            state.size(), " values, expected ", vs.size());
    this->ensure(m_v, "bilevel::crr::singular_vector", vs);
    auto h = Kokkos::create_mirror_view(m_v);
    for (std::size_t k = 0; k < state.size(); ++k) h.data()[k] = Scalar(state[k]);
    Kokkos::deep_copy(space, m_v, h);
    space.fence();  // h dies here
    m_have_vector = true;
  }

 protected:
  void update(const ExecSpace& space) override {
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      m_chain.layer(l).update(space, this->m_theta, filter_offset(l));
    power_iteration(space);
    const auto theta_s = scale_block(this->m_theta);
    const auto scale = m_scale;
    const double inv_sigma = 1.0 / m_sigma;
    Kokkos::parallel_for(
        "bilevel::crr::scale", Kokkos::RangePolicy<ExecSpace>(space, 0, scale.extent(0)),
        KOKKOS_LAMBDA(int c) { scale(c) = Scalar(math::exp(double(theta_s(c))) * inv_sigma); });
  }

 private:
  static std::vector<int> layer_channels(int channels, const CrrOptions& opt) {
    require(channels > 0 && !opt.channels.empty(), "bilevel::crr: needs image channels and layers");
    std::vector<int> c{channels};
    c.insert(c.end(), opt.channels.begin(), opt.channels.end());
    return c;
  }
  std::int64_t filter_offset(std::size_t l) const { return this->blocks()[l].offset; }
  Kokkos::View<Scalar*, memory_space> scale_block(const Params& theta) const {
    const auto& b = this->blocks().back();
    return Kokkos::subview(theta, std::make_pair(b.offset, b.offset + b.size));
  }

  /// sigma^2 = largest eigenvalue of W^T W on (1, C, P, P) by restarted Lanczos, warm-started
  /// from the previous right singular vector m_v.
  void power_iteration(const ExecSpace& space) {
    const ProfilingRegion region("bilevel::crr::spectral_norm");
    const int p = m_opt.spectral_size;
    const Shape vs{1, this->channels(), p, p};
    this->ensure(m_v, "bilevel::crr::singular_vector", vs);
    if (!m_lanczos) m_lanczos = std::make_unique<Lanczos<Scalar, ExecSpace>>(vs, 20);
    if (!m_have_vector) {
      const auto z = host_normals(0xC22, std::size_t(vs.size()));
      auto h = Kokkos::create_mirror_view(m_v);
      for (std::size_t k = 0; k < z.size(); ++k) h.data()[k] = Scalar(z[k]);
      Kokkos::deep_copy(space, m_v, h);
      space.fence();  // h dies here
      m_have_vector = true;
    }
    this->ensure(m_v_start, "bilevel::crr::lanczos_start", vs);
    Kokkos::deep_copy(space, m_v_start, m_v);  // for exact resumes (internal_state)
    const auto normal = [this](const ExecSpace& sp, const auto& in, const MutImages& out) {
      const auto& wv = m_chain.forward(sp, in, m_av);
      m_chain.adjoint(sp, wv, out, m_av);
    };
    const EigenResult r = m_lanczos->top_eigenpair(space, normal, m_v, m_opt.spectral_tol,
                                                   m_opt.spectral_max_iterations);
    require(r.value > 0 && std::isfinite(r.value),
            "bilevel::crr: the convolution operator is zero ", "or not finite (Lanczos gave ",
            r.value, ")");
    m_spectral = r;
    m_sigma = std::sqrt(r.value);
    // Singular pair for dsigma: v (unit) and u = W v / sigma; the activations of v (W v last)
    // stay in m_av for the mixed product.
    const auto& wv = m_chain.forward(space, m_v, m_av);
    this->ensure(m_top, "bilevel::crr::sigma_signal", shape_of(wv));
  }

  CrrOptions m_opt;
  Chain m_chain;
  Kokkos::View<Scalar*, memory_space> m_scale;  // exp(s) / sigma
  Kokkos::View<double*, memory_space> m_sums;
  RidgePotential<Scalar> m_potential;
  typename Chain::Activations m_ax, m_aq, m_av;
  MutImages m_v, m_v_start, m_top;
  std::unique_ptr<Lanczos<Scalar, ExecSpace>> m_lanczos;
  EigenResult m_spectral;
  double m_sigma = 1;
  bool m_have_vector = false;
};

}  // namespace bilevel
