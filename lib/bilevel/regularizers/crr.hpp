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
  /// Largest exp(s) (0: none), enforced by projection after every update of theta. The
  /// Huber/log-cosh curvature is at most beta, so grad R is Lipschitz with at most
  /// beta * max_scale^2 (||W~|| = 1): the cap bounds the lower level's condition number, which
  /// otherwise grows with the learned scales (and nmAPG's and CG's iterations with its root).
  double max_scale = 0.0;
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
  using typename Base::Selection;
  using typename Base::Sums;
  using memory_space = typename ExecSpace::memory_space;
  using Chain = impl::ConvChain<Scalar, ExecSpace>;

  ConvexRidge(const ExecSpace& space, int channels, const CrrOptions& opt = {},
              std::uint64_t seed = 0)
      : m_opt(opt),
        m_chain(layer_channels(channels, opt), opt.kernel_size),
        m_scale("bilevel::crr::scale", opt.channels.back()),
        m_potential{opt.potential, Scalar(opt.beta)},
        m_spectral({1, channels, opt.spectral_size, opt.spectral_size}, opt.spectral_tol,
                   opt.spectral_max_iterations) {
    require(opt.beta > 0 && opt.initial_scale > 0 && opt.init_gain > 0 && opt.max_scale >= 0 &&
                opt.spectral_size > 0 && opt.spectral_tol > 0,
            "bilevel::crr: beta, initial scale, initial gain, spectral size and tolerance must be "
            "positive, the scale cap not negative");
    require(opt.max_scale == 0 || opt.initial_scale <= opt.max_scale,
            "bilevel::crr: the initial scale ", opt.initial_scale, " exceeds the cap ",
            opt.max_scale);
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

  /// \brief The CRR's scratch, one buffer per quantity.
  struct Workspace final : Base::Workspace {
    /// W_l ... W_1 x; the last holds W x, and then D psi'(D W x) (gradient) or the mixed
    /// product's field D^2 psi''(D W x) W q.
    typename Chain::Activations x_path;
    /// W_l ... W_1 of the direction (v of a Hessian product, q of a mixed product).
    typename Chain::Activations direction_path;
    MutImages curvature;                             ///< D^2 psi''(D W x) at the prepared point
    std::uint64_t curvature_version = 0;             ///< the model version it belongs to (0: none)
    typename Chain::Gradients filter_gradients;      ///< of the effective filters, per layer
    Kokkos::View<double*, memory_space> dlog_scale;  ///< per output channel
    typename impl::SpectralNormaliser<Scalar, ExecSpace>::Scratch sigma;  ///< dsigma's backprop
    /// J t: the direction's filters, the tangents of the x path (acts: d(W_l ... W_1 x), back:
    /// the adjoint tangent's signals) and their scratch.
    typename Chain::Directions directions;
    typename Chain::Activations tangent_path, tangent_scratch;
    MutImages tangent_in;  ///< dW_1^T of the first signal
  };
  std::unique_ptr<typename Base::Workspace> make_workspace() const override {
    return std::make_unique<Workspace>();
  }

  // The hooks below launch kernels, and nvcc requires a function that encloses an extended
  // lambda to be public: callers use the checked public calls of the base class instead.
 public:
  void evaluate(const ExecSpace& space, const ConstImages& x, const Sums& out, const MutImages& g,
                const Selection& sel, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    const auto wx = m_chain.forward(space, x, w.x_path, nullptr, sel);
    const auto d = m_scale;
    const auto psi = m_potential;
    if (out.data() != nullptr && sel.all)  // no test in the loop: it stays vectorised
      impl::sample_sums(
          "bilevel::crr::energy", space, shape_of(wx),
          KOKKOS_LAMBDA(int n, int c, int i, int j) {
            return double(psi.value(d(c) * wx(n, c, i, j)));
          },
          out);
    else if (out.data() != nullptr)
      impl::sample_sums(
          "bilevel::crr::energy", space, shape_of(wx),
          KOKKOS_LAMBDA(int n, int c, int i, int j) {
            return sel.contains(n) ? double(psi.value(d(c) * wx(n, c, i, j))) : 0.0;
          },
          out);
    if (g.data() == nullptr) return;
    // g = W~^T (exp(s) psi'(exp(s) W~ x)): the field replaces W x.
    impl::for_each_selected_pixel(
        "bilevel::crr::potential_derivative", space, shape_of(wx), sel,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wx(n, c, i, j) = d(c) * psi.d1(d(c) * wx(n, c, i, j));
        });
    m_chain.adjoint(space, wx, g, w.x_path, sel);
  }

  void apply_hessian(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                     const MutImages& hv, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    const auto wx = m_chain.forward(space, x, w.x_path);
    const auto wv = m_chain.forward(space, v, w.direction_path, &w.x_path);
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::for_each_pixel(
        "bilevel::crr::potential_curvature", space, shape_of(wx),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wv(n, c, i, j) *= d(c) * d(c) * psi.d2(d(c) * wx(n, c, i, j));
        });
    m_chain.adjoint(space, wv, hv, w.direction_path);
  }

  /// Forward mode through grad R = W^T (D psi'(D W x)), D = exp(s) / sigma: J t =
  /// W^T dfield + dW^T field with dD = D (t_s - dsigma / sigma), dsigma = <u, dW v>.
  void compute_jacobian_vector_product(const ExecSpace& space, const ConstImages& x,
                                       const typename Base::ConstParams& t, const MutImages& out,
                                       typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    std::vector<std::int64_t> offsets;
    for (std::size_t l = 0; l < m_chain.depth(); ++l) offsets.push_back(filter_offset(l));
    m_chain.set_directions(space, t, offsets, w.directions);
    const double rel_dsigma =
        m_spectral.tangent(space, m_chain, w.directions, w.sigma) / m_spectral.sigma();
    const auto wx = m_chain.forward(space, x, w.x_path);
    const auto dwx = m_chain.forward_tangent(space, x, w.x_path, w.directions, w.tangent_path,
                                             w.tangent_scratch);
    const auto d = m_scale;
    const auto psi = m_potential;
    const std::int64_t os = scale_offset();
    impl::for_each_pixel(
        "bilevel::crr::jacobian_fields", space, shape_of(wx),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar dd = Scalar(d(c) * (double(t(os + c)) - rel_dsigma));
          const Scalar u = d(c) * wx(n, c, i, j);
          const Scalar du = dd * wx(n, c, i, j) + d(c) * dwx(n, c, i, j);
          dwx(n, c, i, j) = dd * psi.d1(u) + d(c) * psi.d2(u) * du;
          wx(n, c, i, j) = d(c) * psi.d1(u);
        });
    this->ensure(w.tangent_in, "bilevel::crr::tangent_in", shape_of(x));
    m_chain.adjoint(space, wx, out, w.x_path);  // the field's signals (out is rewritten below)
    m_chain.adjoint_tangent(space, wx, dwx, w.x_path, w.directions, w.tangent_path,
                            w.tangent_scratch, w.tangent_in, out);
  }

  void compute_mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                             const Params& dtheta, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    if (w.filter_gradients.empty()) {
      w.filter_gradients = m_chain.make_gradients();
      w.dlog_scale =
          Kokkos::View<double*, memory_space>("bilevel::crr::dlog_scale", m_chain.out_channels());
    }
    // L = <grad R(x), q> = sum D psi'(D wx) wq with D = exp(s) / sigma, wx = W x, wq = W q.
    const auto wx = m_chain.forward(space, x, w.x_path);
    const auto wq = m_chain.forward(space, q, w.direction_path, &w.x_path);
    const auto d = m_scale;
    const auto psi = m_potential;
    const Shape rs = shape_of(wx);
    // dL/ds_c = D_c dL/dD_c = sum (psi'(u) + psi''(u) u) D wq.
    impl::channel_sums(
        "bilevel::crr::dlog_scale", space, rs,
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          const Scalar u = d(c) * wx(n, c, i, j);
          return double((psi.d1(u) + psi.d2(u) * u) * d(c) * wq(n, c, i, j));
        },
        w.dlog_scale);
    // dL/d(wx) = D^2 psi''(u) wq and dL/d(wq) = D psi'(u), backpropagated to the filters.
    impl::for_each_pixel(
        "bilevel::crr::mixed_fields", space, rs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = d(c) * wx(n, c, i, j);
          wx(n, c, i, j) = d(c) * d(c) * psi.d2(u) * wq(n, c, i, j);
          wq(n, c, i, j) = d(c) * psi.d1(u);
        });
    // wx / wq are the paths' last activations: backprop overwrites only the hidden signals.
    m_chain.backprop_filters(space, x, wx, w.x_path, w.x_path, w.filter_gradients, Scalar(0));
    m_chain.backprop_filters(space, q, wq, w.direction_path, w.direction_path, w.filter_gradients,
                             Scalar(1));
    // Through sigma: dL/dsigma = -(1/sigma) sum_c dL/ds_c, and dsigma/dK = <u, dW v>.
    double ds_total = 0;
    {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w.dlog_scale);
      for (std::size_t c = 0; c < h.extent(0); ++c) ds_total += h(c);
    }
    m_spectral.backprop(space, m_chain, -ds_total / m_spectral.sigma(), w.filter_gradients,
                        w.sigma);
    for (std::size_t l = 0; l < m_chain.depth(); ++l)
      m_chain.layer(l).store_gradient(space, w.filter_gradients[l], dtheta, filter_offset(l));
    const auto sums = w.dlog_scale;
    const auto out = scale_block(dtheta);
    Kokkos::parallel_for(
        "bilevel::crr::store_dlog_scale", Kokkos::RangePolicy<ExecSpace>(space, 0, out.extent(0)),
        KOKKOS_LAMBDA(int c) { out(c) = Scalar(sums(c)); });
  }

  /// Keeps the curvature D^2 psi''(D W x) for the products (see the base class): each prepared
  /// product is then one forward and one adjoint pass of the selected samples.
  void prepare_curvature(const ExecSpace& space, const ConstImages& x,
                         typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    const auto wx = m_chain.forward(space, x, w.x_path);
    this->ensure(w.curvature, "bilevel::crr::curvature", shape_of(wx));
    const auto curv = w.curvature;
    const auto d = m_scale;
    const auto psi = m_potential;
    impl::for_each_pixel(
        "bilevel::crr::prepare_curvature", space, shape_of(wx),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          curv(n, c, i, j) = d(c) * d(c) * psi.d2(d(c) * wx(n, c, i, j));
        });
    w.curvature_version = m_version;
  }
  void prepared_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                        const MutImages& hv, const Selection& sel,
                        typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    if (w.curvature_version != m_version) prepare_curvature(space, x, ws);  // theta moved
    const auto curv = w.curvature;
    const auto wv = m_chain.forward(space, v, w.direction_path, &w.x_path, sel);
    impl::for_each_selected_pixel(
        "bilevel::crr::apply_curvature", space, shape_of(wv), sel,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          wv(n, c, i, j) *= curv(n, c, i, j);
        });
    m_chain.adjoint(space, wv, hv, w.direction_path, sel);
    impl::zero_unselected(space, hv, sel);
  }

 public:
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
  void apply_normalised(const ExecSpace& space, const ConstImages& x, const MutImages& y) const {
    typename Chain::Activations path;
    const auto& wx = m_chain.forward(space, x, path);
    Kokkos::deep_copy(space, y, wx);
    axpby(space, Scalar(0), y, Scalar(1.0 / m_spectral.sigma()), y);
  }
  const CrrOptions& options() const { return m_opt; }

  /// The Lanczos start vector of the last update (see Regularizer::internal_state).
  std::vector<double> internal_state() const override { return m_spectral.state(); }
  void set_internal_state(const ExecSpace& space, const std::vector<double>& state) override {
    m_spectral.set_state(space, state);
  }

 public:  // kernels inside (see above)
  /// exp(s) <= max_scale (CrrOptions::max_scale): projected gradient steps on s.
  void project(const ExecSpace& space) override {
    if (m_opt.max_scale <= 0) return;
    const auto s = scale_block(this->m_theta);
    const auto top = Scalar(std::log(m_opt.max_scale));
    Kokkos::parallel_for(
        "bilevel::crr::cap_scale", Kokkos::RangePolicy<ExecSpace>(space, 0, s.extent(0)),
        KOKKOS_LAMBDA(int c) {
          if (s(c) > top) s(c) = top;
        });
  }

  void update(const ExecSpace& space) override {
    ++m_version;
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

 private:
  static std::vector<int> layer_channels(int channels, const CrrOptions& opt) {
    require(channels > 0 && !opt.channels.empty(), "bilevel::crr: needs image channels and layers");
    std::vector<int> c{channels};
    c.insert(c.end(), opt.channels.begin(), opt.channels.end());
    return c;
  }
  std::int64_t filter_offset(std::size_t l) const { return this->blocks()[l].offset; }
  std::int64_t scale_offset() const { return this->blocks().back().offset; }
  Kokkos::View<Scalar*, memory_space> scale_block(const Params& theta) const {
    const auto& b = this->blocks().back();
    return Kokkos::subview(theta, std::make_pair(b.offset, b.offset + b.size));
  }

  CrrOptions m_opt;
  Chain m_chain;
  Kokkos::View<Scalar*, memory_space> m_scale;  // exp(s) / sigma
  RidgePotential<Scalar> m_potential;
  std::uint64_t m_version = 0;  // counts the updates: a prepared curvature belongs to one
  impl::SpectralNormaliser<Scalar, ExecSpace> m_spectral;
};

}  // namespace bilevel
