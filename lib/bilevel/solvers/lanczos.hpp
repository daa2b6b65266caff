#pragma once
/// \file
/// Largest eigenpair of a symmetric positive semi-definite operator on image batches by
/// restarted Lanczos with full reorthogonalisation. Used for spectral norms of convolution
/// chains (CRR normalisation), whose top eigenvalues cluster so tightly that plain power
/// iteration needs tens of thousands of steps where Lanczos needs a few hundred.

#include <bilevel/core/blas1.hpp>
#include <bilevel/solvers/symmetric_eigen.hpp>
#include <cmath>
#include <vector>

namespace bilevel {

/// \brief Outcome of top_eigenpair.
struct EigenResult {
  double value = 0;        ///< the Ritz value (a lower bound on the top eigenvalue)
  double residual = 0;     ///< ||A v - value v|| for the returned unit vector v
  int applications = 0;    ///< operator applications spent
  bool converged = false;  ///< residual <= tol * value
};

/// \brief Workspace and driver for restarted Lanczos on vectors of a given batch shape. A batch
/// is one vector of the direct sum (inner products summed over samples), so for a
/// block-diagonal operator the result is the largest eigenvalue over all samples.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Lanczos {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;

  /// Krylov dimension `steps` per restart, vectors of shape s (s.n must be 1).
  Lanczos(const Shape& s, int steps = 30)
      : m_steps(steps),
        m_shape(s),
        m_basis(make_images<Scalar, memory_space>("bilevel::lanczos::basis",
                                                  {(steps + 1) * s.n, s.c, s.h, s.w})),
        m_w(make_images<Scalar, memory_space>("bilevel::lanczos::w", s)),
        m_dot("bilevel::lanczos::dot", s.n) {
    require(s.n >= 1 && steps >= 2,
            "bilevel::Lanczos: needs a nonempty batch and at least 2 steps");
  }

  /// Refines `v` (in: start vector, nonzero; out: unit top Ritz vector) for A = apply(space, in,
  /// out) until ||A v - lambda v|| <= tol * lambda or `max_applications` is spent.
  template <class Apply>
  EigenResult top_eigenpair(const ExecSpace& space, const Apply& apply, const MutImages& v,
                            double tol, int max_applications) {
    EigenResult r;
    scale(space, v, 1.0 / std::sqrt(dot(space, v, v)));
    while (r.applications < max_applications) {
      Kokkos::deep_copy(space, q(0), v);
      std::vector<double> alpha, beta;
      Ritz ritz;
      int m = 0;
      while (m < m_steps && r.applications < max_applications) {
        apply(space, q(m), m_w);
        ++r.applications;
        // Full reorthogonalisation (twice is enough): w <- w - sum_i <q_i, w> q_i.
        double a = 0;
        for (int pass = 0; pass < 2; ++pass)
          for (int i = 0; i <= m; ++i) {
            const double c = dot(space, q(i), m_w);
            if (i == m) a += c;
            axpby(space, Scalar(-c), q(i), Scalar(1), m_w);
          }
        alpha.push_back(a);
        const double b = std::sqrt(dot(space, m_w, m_w));
        beta.push_back(b);
        ++m;
        // The top Ritz pair of the m x m tridiagonal matrix costs O(m^3) flops on the host,
        // nothing next to one operator application, so convergence is checked at every step:
        // a warm start near the top eigenvector often needs only a few.
        ritz = top_ritz(alpha, beta, m);
        if (b <= 1e-14 * std::abs(a) || ritz.residual <= tol * ritz.value) break;
        Kokkos::deep_copy(space, q(m), m_w);
        scale(space, q(m), 1.0 / b);
      }
      // The Ritz vector: the result, or the next restart.
      r.value = ritz.value, r.residual = ritz.residual;
      Kokkos::deep_copy(space, v, Scalar(0));
      for (int i = 0; i < m; ++i)
        axpby(space, Scalar(ritz.vector[std::size_t(i)]), q(i), Scalar(1), v);
      scale(space, v, 1.0 / std::sqrt(dot(space, v, v)));
      if (r.residual <= tol * r.value) {
        r.converged = true;
        break;
      }
    }
    return r;
  }

 private:
  struct Ritz {
    double value = 0, residual = 0;
    std::vector<double> vector;  // coordinates in the Lanczos basis
  };
  // Top eigenpair of the m x m tridiagonal matrix (alpha, beta) and its residual estimate
  // |beta_m y_m| = ||A v - value v|| for the Ritz vector v.
  static Ritz top_ritz(const std::vector<double>& alpha, const std::vector<double>& beta, int m) {
    std::vector<double> t(std::size_t(m) * m, 0.0), values, vectors;
    for (int i = 0; i < m; ++i) {
      t[std::size_t(i) * m + i] = alpha[std::size_t(i)];
      if (i + 1 < m)
        t[std::size_t(i) * m + i + 1] = t[std::size_t(i + 1) * m + i] = beta[std::size_t(i)];
    }
    impl::symmetric_eigen(t, m, values, vectors);
    int top = 0;
    for (int i = 1; i < m; ++i)
      if (values[std::size_t(i)] > values[std::size_t(top)]) top = i;
    Ritz out;
    out.value = values[std::size_t(top)];
    out.residual = std::abs(beta[std::size_t(m - 1)] * vectors[std::size_t(m - 1) * m + top]);
    for (int i = 0; i < m; ++i) out.vector.push_back(vectors[std::size_t(i) * m + top]);
    return out;
  }

  auto q(int i) const {
    return Kokkos::subview(m_basis, std::make_pair(i * m_shape.n, (i + 1) * m_shape.n), Kokkos::ALL,
                           Kokkos::ALL, Kokkos::ALL);
  }
  template <class A, class B>
  double dot(const ExecSpace& space, const A& a, const B& b) {
    bilevel::dot(space, a, b, m_dot);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_dot);
    double sum = 0;
    for (std::size_t k = 0; k < h.extent(0); ++k) sum += h(k);
    return sum;
  }
  template <class A>
  void scale(const ExecSpace& space, const A& a, double f) {
    axpby(space, Scalar(0), a, Scalar(f), a);
  }

  int m_steps;
  Shape m_shape;
  MutImages m_basis, m_w;
  PerSample<double, memory_space> m_dot;
};

}  // namespace bilevel
