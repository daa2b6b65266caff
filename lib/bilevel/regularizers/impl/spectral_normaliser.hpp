#pragma once
/// \file
/// Spectral normalisation of a convolution chain W (the CRR's W~ = W / sigma), as a component
/// with its own state and buffers:
///
///   sigma(W) = ||W v||,   v a unit vector that is *state*, not a function of W.
///
/// update() first refreshes v toward the top right singular vector of W by restarted Lanczos
/// on W^T W (warm-started from the previous v), unless held, and then evaluates sigma for that
/// v. For a given v, sigma is a smooth function of the filters with the exact derivative
///   dsigma = <u, dW v>,   u = W v / sigma,
/// which backprop() adds to the filter gradients. So the hypergradient is exact for the model
/// it evaluates, however close the top singular values are: when they nearly coincide (relative
/// gaps of 1e-9 are usual for 64 x 64 domains) Lanczos returns a mixture of the top singular
/// vectors, whose ||W v|| is still within O(residual^2) of sigma_max, whereas sigma_max itself
/// is not differentiable there. Holding v (hold(true)) freezes the model's normalisation, so
/// that finite differences in theta see the same smooth function as the derivative.

#include <bilevel/core/blas1.hpp>
#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/core/random.hpp>
#include <bilevel/regularizers/impl/conv_chain.hpp>
#include <bilevel/solvers/lanczos.hpp>
#include <cmath>
#include <memory>
#include <vector>

namespace bilevel::impl {

template <class Scalar, class ExecSpace>
class SpectralNormaliser {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Chain = ConvChain<Scalar, ExecSpace>;

  /// v lives on `domain` (1, C, P, P); Lanczos stops at ||W^T W v - l v|| <= tol l or after
  /// `max_applications` products with W^T W.
  SpectralNormaliser(const Shape& domain, double tol, int max_applications)
      : m_domain(domain),
        m_tol(tol),
        m_max_applications(max_applications),
        m_dot("bilevel::spectral::dot", 1) {}

  /// Refreshes v for the chain's current filters (unless held) and sets sigma = ||W v||.
  void update(const ExecSpace& space, const Chain& chain) {
    const ProfilingRegion region("bilevel::crr::spectral_norm");
    ensure_vector(space);
    if (!m_hold || !m_refreshed) {
      Kokkos::deep_copy(space, m_v_start, m_v);  // for exact resumes (state())
      if (!m_lanczos) m_lanczos = std::make_unique<Lanczos<Scalar, ExecSpace>>(m_domain, 20);
      const auto normal = [&](const ExecSpace& sp, const auto& in, const MutImages& out) {
        chain.adjoint(sp, chain.forward(sp, in, m_av), out, m_av);
      };
      m_result = m_lanczos->top_eigenpair(space, normal, m_v, m_tol, m_max_applications);
      m_refreshed = true;
    }
    // sigma for this v, with the activations of v (W v last) kept for backprop.
    const auto& wv = chain.forward(space, m_v, m_av);
    bilevel::dot(space, wv, wv, m_dot);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_dot);
    m_sigma = std::sqrt(h(0));
    require(m_sigma > 0 && std::isfinite(m_sigma),
            "bilevel::crr: the convolution operator is zero or not finite (||W v|| = ", m_sigma,
            ")");
  }

  /// sigma = ||W v|| of the last update.
  double sigma() const { return m_sigma; }

  /// The buffers backprop writes (a regularizer workspace's, so that the normaliser stays
  /// read-only between updates).
  struct Scratch {
    typename Chain::Activations signals;  // backpropagated signals of the hidden layers
    MutImages top;                        // dl_dsigma u
    typename Chain::Activations tangent, tangent_scratch;  // d(W v) by forward mode
    PerSample<double, memory_space> dot;                   // <W v, d(W v)>
  };

  /// dsigma = <u, dW v> for the filter directions d (the tangent of sigma = ||W v|| at the
  /// model's v); fences.
  double tangent(const ExecSpace& space, const Chain& chain, const typename Chain::Directions& d,
                 Scratch& scratch) const {
    const auto& dwv =
        chain.forward_tangent(space, m_v, m_av, d, scratch.tangent, scratch.tangent_scratch);
    if (scratch.dot.data() == nullptr)
      scratch.dot = PerSample<double, memory_space>("bilevel::crr::sigma_tangent", 1);
    bilevel::dot(space, m_av.acts.back(), dwv, scratch.dot);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), scratch.dot);
    return h(0) / m_sigma;
  }

  /// Adds dl_dsigma * dsigma/dK_l = dl_dsigma <u, dW_l v> to every layer's gradient.
  void backprop(const ExecSpace& space, const Chain& chain, double dl_dsigma,
                const typename Chain::Gradients& grads, Scratch& scratch) const {
    // u = W v / sigma is the last activation of v.
    const auto& wv = m_av.acts.back();
    chain.ensure(scratch.signals, m_domain, "bilevel::crr::sigma_signals");
    ensure_view(scratch.top, "bilevel::crr::sigma_signal", shape_of(wv));
    Kokkos::deep_copy(space, scratch.top, wv);
    axpby(space, Scalar(0), scratch.top, Scalar(dl_dsigma / m_sigma), scratch.top);
    chain.backprop_filters(space, m_v, scratch.top, m_av, scratch.signals, grads, Scalar(1));
  }

  /// Forgets v: the next update starts Lanczos from the fixed pseudo-random vector.
  void reset() { m_have_vector = m_refreshed = false; }

  /// Holding keeps v (and so the normalisation's definition) through later updates; the first
  /// update after construction or set_state still refreshes it. An update under hold with the
  /// filters of the last refresh reproduces its sigma bit for bit.
  void hold(bool on) { m_hold = on; }
  bool held() const { return m_hold; }

  /// The last Lanczos refresh: operator applications, residual, convergence.
  const EigenResult& result() const { return m_result; }

  /// v as it was before the last refresh (its start vector; held updates keep it, so that a
  /// resumed run repeats the refresh and then holds the same v); empty before the first update.
  std::vector<double> state() const {
    if (m_v_start.data() == nullptr) return {};
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_v_start);
    return std::vector<double>(h.data(), h.data() + h.span());
  }
  /// Restores a state() so that the next update repeats the saved one bit for bit.
  void set_state(const ExecSpace& space, const std::vector<double>& state) {
    require(std::int64_t(state.size()) == m_domain.size(), "bilevel::crr: internal state has ",
            state.size(), " values, expected ", m_domain.size());
    ensure_view(m_v, "bilevel::crr::singular_vector", m_domain);
    auto h = Kokkos::create_mirror_view(m_v);
    for (std::size_t k = 0; k < state.size(); ++k) h.data()[k] = Scalar(state[k]);
    Kokkos::deep_copy(space, m_v, h);
    space.fence();  // h dies here
    m_have_vector = true;
    m_refreshed = false;
  }

 private:
  // A fixed pseudo-random start, so that every run begins from the same v.
  void ensure_vector(const ExecSpace& space) {
    ensure_view(m_v, "bilevel::crr::singular_vector", m_domain);
    ensure_view(m_v_start, "bilevel::crr::lanczos_start", m_domain);
    if (m_have_vector) return;
    const auto z = host_normals(0xC22, std::size_t(m_domain.size()));
    auto h = Kokkos::create_mirror_view(m_v);
    for (std::size_t k = 0; k < z.size(); ++k) h.data()[k] = Scalar(z[k]);
    Kokkos::deep_copy(space, m_v, h);
    space.fence();  // h dies here
    m_have_vector = true;
  }
  static void ensure_view(MutImages& v, const char* label, const Shape& s) {
    if (v.data() == nullptr || shape_of(v) != s) v = make_images<Scalar, memory_space>(label, s);
  }

  Shape m_domain;
  double m_tol;
  int m_max_applications;
  PerSample<double, memory_space> m_dot;
  typename Chain::Activations m_av;  // activations of v; Lanczos' scratch
  MutImages m_v, m_v_start;
  std::unique_ptr<Lanczos<Scalar, ExecSpace>> m_lanczos;
  EigenResult m_result;
  double m_sigma = 1;
  bool m_have_vector = false, m_refreshed = false, m_hold = false;
};

}  // namespace bilevel::impl
