#pragma once
/// \file
/// Convex ridge regularizer, CRR (main paper section 4.1; DESIGN.md section 3.3):
///   R(x) = sum_{channel, pixel} psi(exp(s) . W~ x),   W~ = W / sigma(W),
/// W = three zero-padded 5 x 5 convolutions C -> 4 -> 8 -> 64 without bias, every filter
/// reparametrised to zero mean (stored minus its mean) and initialised zero-mean Xavier normal;
/// s a per-channel log-scale (64); psi Huber or log-cosh with parameter beta (fixed).
///
/// sigma(W) = ||W v|| on a P x P domain (P = `spectral_size`), v the unit top right singular
/// vector of W found by restarted Lanczos on W^T W (warm-started from the previous v) until
/// ||W^T W v - lambda v|| <= spectral_tol * lambda (regularizers/impl/spectral_normaliser.hpp).
/// v is state: for it, sigma and its derivative dsigma = <u, dW v> (u = W v / sigma, part of
/// the exact mixed product) are exact even when the top singular values nearly coincide, and
/// hold_normalisation(true) keeps v while theta changes (finite differences, trial steps).
/// (Plain power iteration, as in the paper, needs tens of thousands of steps here: the top of
/// the spectrum of a convolution is tightly clustered.) Zero padding makes the norm grow
/// slightly with the image size, so P defaults to the training crop size (64).
/// theta blocks: "filters1" (4, C, 5, 5), "filters2" (8, 4, 5, 5), "filters3" (64, 8, 5, 5),
/// "log_scale" (64): 13,964 parameters for colour images.

#include <bilevel/core/blas1.hpp>
#include <bilevel/potentials/ridge_potential.hpp>
#include <bilevel/regularizers/impl/conv_chain.hpp>
#include <bilevel/regularizers/impl/pixel_ops.hpp>
#include <bilevel/regularizers/impl/spectral_normaliser.hpp>
#include <cmath>
#include <memory>

namespace bilevel {

/// \brief Settings of a CRR (defaults as in the main paper's experiments).
struct CrrOptions {
  std::vector<int> channels{4, 8, 64};  ///< output channels of the layers
  int kernel_size = 5;
  RidgePotentialKind potential = RidgePotentialKind::huber;
  double beta = 100.0;         ///< potential parameter (Huber kink at 1 / beta)
  double initial_scale = 1.0;  ///< exp(s) at initialisation
  /// Gain on the Xavier standard deviation of every layer's filters. W~ does not change when a
  /// layer is scaled, so the gain only sets how far one gradient step turns the filters
  /// (relative to the log-scales, which it leaves alone): a step turns layer l by about
  /// alpha |grad| / |K_l|, and |grad| scales as 1 / |K_l|.
  double init_gain = 1.0;
  int spectral_size = 64;  ///< P: the normalisation's domain is P x P
  /// Relative eigen-residual stopping Lanczos. sigma = ||W v|| and its derivative are exact for
  /// any v, so this only sets how close ||W~|| is to 1: at 1e-4 sigma is within ~1e-7 of the
  /// top singular value of the paper's CRR, and a warm-started refresh takes 2-6 products.
  double spectral_tol = 1e-4;
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
        m_potential{opt.potential, Scalar(opt.beta)},
        m_spectral({1, channels, opt.spectral_size, opt.spectral_size}, opt.spectral_tol,
                   opt.spectral_max_iterations) {
    require(opt.beta > 0 && opt.initial_scale > 0 && opt.init_gain > 0 && opt.spectral_size > 0 &&
                opt.spectral_tol > 0,
            "bilevel::crr: beta, initial scale, initial gain, spectral size and tolerance must be "
            "positive");
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
      m_chain.layer(l).initialize_xavier(space, this->m_theta, filter_offset(l), seed + 7919 * l,
                                         m_opt.init_gain);
    Kokkos::deep_copy(space, scale_block(this->m_theta), Scalar(std::log(m_opt.initial_scale)));
    m_spectral.reset();
    update(space);
  }

  void energy(const ExecSpace& space, const ConstImages& x, const Sums& out) override {
    this->check_images("energy", x);
    const auto wx = responses(space, x);
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

  void energy_and_gradient_selected(const ExecSpace& space, const ConstImages& x, const Sums& out,
                                    const MutImages& g,
                                    const typename Base::Selection& sel) override {
    if (sel.all) return energy_and_gradient(space, x, out, g);
    this->check_images("energy_and_gradient_selected", x);
    require_same_shape("bilevel::crr::energy_and_gradient_selected", x, g);
    const auto wx = responses(space, x, sel);
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::sample_sums(
        "bilevel::crr::energy", space, shape_of(wx),
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          return sel.contains(n) ? double(psi.value(d(c) * wx(n, c, i, j))) : 0.0;
        },
        out);
    gradient_from_responses(space, g, sel);
  }

  void gradient(const ExecSpace& space, const ConstImages& x, const MutImages& g) override {
    this->check_images("gradient", x);
    require_same_shape("bilevel::crr::gradient", x, g);
    responses(space, x);
    gradient_from_responses(space, g);
  }

 private:
  /// g = W~^T (exp(s) psi'(exp(s) W~ x)) from W x held in m_ax (selected samples).
  void gradient_from_responses(const ExecSpace& space, const MutImages& g,
                               const typename Base::Selection& sel) {
    const auto wx = m_ax.acts.back();
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::for_each_selected_pixel(
        "bilevel::crr::potential_derivative", space, shape_of(wx), sel,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wx(n, c, i, j) = d(c) * psi.d1(d(c) * wx(n, c, i, j));
        });
    m_chain.adjoint(space, wx, g, m_ax, sel);
  }
  void gradient_from_responses(const ExecSpace& space, const MutImages& g) {
    gradient_from_responses(space, g, Base::Selection::every(int(g.extent(0))));
  }

 public:
  void hessian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                              const MutImages& hv) override {
    this->check_images("hessian_vector_product", x);
    require_same_shape("bilevel::crr::hessian_vector_product", x, v);
    require_same_shape("bilevel::crr::hessian_vector_product", x, hv);
    const auto wx = responses(space, x);
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
    const auto wx = responses(space, x);
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
    // Through sigma: dL/dsigma = -(1/sigma) sum_c dL/ds_c, and dsigma/dK = <u, dW v>.
    double ds_total = 0;
    {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_sums);
      for (std::size_t c = 0; c < h.extent(0); ++c) ds_total += h(c);
    }
    m_spectral.backprop(space, m_chain, -ds_total / m_spectral.sigma());
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      m_chain.layer(l).store_gradient(space, dtheta, filter_offset(l));
    const auto sums = m_sums;
    const auto out = scale_block(dtheta);
    Kokkos::parallel_for(
        "bilevel::crr::store_dlog_scale", Kokkos::RangePolicy<ExecSpace>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(int c) { out(c) = Scalar(sums(c)); });
  }

  /// sigma(W) = ||W v|| of the current filters (on P x P images).
  double spectral_norm() const { return m_spectral.sigma(); }
  /// The last Lanczos refresh of v: operator applications, residual, convergence.
  const EigenResult& spectral_result() const { return m_spectral.result(); }
  /// While held, set_params keeps the singular vector v, so sigma = ||W v|| and the model are
  /// one smooth function of theta (for finite differences or trial steps); unheld, every
  /// set_params refreshes v by Lanczos first.
  void hold_normalisation(bool hold) { m_spectral.hold(hold); }
  void hold_internal_state(bool hold) override { hold_normalisation(hold); }
  bool internal_state_held() const override { return m_spectral.held(); }
  /// Applies the normalised operator W~ = exp(s)-free W / sigma to x (for tests and users).
  void apply_normalised(const ExecSpace& space, const ConstImages& x, const MutImages& y) {
    const auto& wx = responses(space, x);
    Kokkos::deep_copy(space, y, wx);
    axpby(space, Scalar(0), y, Scalar(1.0 / m_spectral.sigma()), y);
  }
  const CrrOptions& options() const { return m_opt; }

  /// The Lanczos start vector of the last update (see Regularizer::internal_state).
  std::vector<double> internal_state() const override { return m_spectral.state(); }
  void set_internal_state(const ExecSpace& space, const std::vector<double>& state) override {
    m_spectral.set_state(space, state);
  }

 protected:
  void update(const ExecSpace& space) override {
    m_curvature_current = false;
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      m_chain.layer(l).update(space, this->m_theta, filter_offset(l));
    m_spectral.update(space, m_chain);
    const auto theta_s = scale_block(this->m_theta);
    const auto scale = m_scale;
    const double inv_sigma = 1.0 / m_spectral.sigma();
    Kokkos::parallel_for(
        "bilevel::crr::scale", Kokkos::RangePolicy<ExecSpace>(space, 0, scale.extent(0)),
        KOKKOS_LAMBDA(int c) { scale(c) = Scalar(math::exp(double(theta_s(c))) * inv_sigma); });
  }

  /// Shares W x and the curvature D^2 psi''(D W x) across the products (see the base class):
  /// each prepared product is one forward and one adjoint pass of the selected samples. The
  /// curvature replaces W x in m_ax's last activations (no extra buffer) until another method
  /// computes responses there or theta moves; the next product then recomputes it.
  void prepare_curvature(const ExecSpace& space, const ConstImages& x) override {
    const auto wx = responses(space, x);
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::for_each_pixel(
        "bilevel::crr::prepare_curvature", space, shape_of(wx),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wx(n, c, i, j) = d(c) * d(c) * psi.d2(d(c) * wx(n, c, i, j));
        });
    m_curvature_current = true;
  }
  void prepared_product(const ExecSpace& space, const ConstImages& v, const MutImages& hv,
                        const typename Base::Selection& sel) override {
    if (!m_curvature_current) prepare_curvature(space, this->hessian_point());
    const auto curv = m_ax.acts.back();
    const auto wv = m_chain.forward(space, v, m_aq, &m_ax, sel);
    impl::for_each_selected_pixel(
        "bilevel::crr::apply_curvature", space, shape_of(wv), sel,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wv(n, c, i, j) *= curv(n, c, i, j);
        });
    m_chain.adjoint(space, wv, hv, m_aq, sel);
    impl::zero_unselected(space, hv, sel);
  }

 private:
  /// W x into m_ax (the selected samples), which then no longer holds the prepared curvature.
  const MutImages& responses(const ExecSpace& space, const ConstImages& x,
                             const typename Base::Selection& sel) {
    m_curvature_current = false;
    return m_chain.forward(space, x, m_ax, nullptr, sel);
  }
  const MutImages& responses(const ExecSpace& space, const ConstImages& x) {
    return responses(space, x, Base::Selection::every(int(x.extent(0))));
  }
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

  CrrOptions m_opt;
  Chain m_chain;
  Kokkos::View<Scalar*, memory_space> m_scale;  // exp(s) / sigma
  Kokkos::View<double*, memory_space> m_sums;
  RidgePotential<Scalar> m_potential;
  typename Chain::Activations m_ax, m_aq;
  bool m_curvature_current = false;  // m_ax's last activations hold D^2 psi''(D W x)
  impl::SpectralNormaliser<Scalar, ExecSpace> m_spectral;
};

}  // namespace bilevel
