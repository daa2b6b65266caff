#pragma once
/// \file
/// A convolution layer whose filters live in a slice of theta: the zero-mean reparametrisation
/// (effective filter = stored filter minus its mean over (Cin, k, k)), the packed operator for
/// the solvers, and the chain rule back to the stored parameters. Used by FoE, CRR and ICNN.

#include <bilevel/conv/conv2d.hpp>
#include <bilevel/core/random.hpp>
#include <bilevel/regularizers/regularizer.hpp>
#include <cmath>

namespace bilevel::impl {

template <class Scalar, class ExecSpace>
class FilterBank {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using Params = Kokkos::View<Scalar*, memory_space>;

  FilterBank() = default;
  FilterBank(int out_channels, int in_channels, int k, bool zero_mean)
      : m_cout(out_channels),
        m_cin(in_channels),
        m_k(k),
        m_zero_mean(zero_mean),
        m_filters("bilevel::filters", out_channels, in_channels, k, k),
        m_op(out_channels, in_channels, k) {}

  std::vector<int> shape() const { return {m_cout, m_cin, m_k, m_k}; }
  std::int64_t size() const { return std::int64_t(m_cout) * m_cin * m_k * m_k; }

  /// Stored filters of theta[offset, offset + size) to effective filters, packed.
  void update(const ExecSpace& space, const Params& theta, std::int64_t offset) {
    effective_filters(space, theta, offset, m_filters);
    m_op.set_filters(space, m_filters);
  }

  /// The effective filters of the slice theta[offset, offset + size) into `out`: the stored
  /// ones minus their mean (zero-mean banks), or as stored. Linear, so a direction t of theta
  /// maps to the direction of the effective filters the same way.
  template <class P>
  void effective_filters(const ExecSpace& space, const P& theta, std::int64_t offset,
                         const Filters<Scalar, memory_space>& out) const {
    zero_mean_projection("bilevel::filters::effective", space, theta.data() + offset, out.data());
  }

  /// \brief A direction of the layer's filters, packed for convolutions: dW of a direction t
  /// of theta (a workspace's, for derivatives in theta).
  struct Direction {
    Filters<Scalar, memory_space> filters;
    Conv2dOperator<Scalar, ExecSpace> op;
  };
  /// dW for the direction t (a parameter-length View; this layer's slice at `offset`).
  template <class P>
  void set_direction(const ExecSpace& space, const P& t, std::int64_t offset, Direction& d) const {
    if (d.filters.data() == nullptr) {
      d.filters = make_gradient("bilevel::filters::direction");
      d.op = Conv2dOperator<Scalar, ExecSpace>(m_cout, m_cin, m_k);
    }
    effective_filters(space, t, offset, d.filters);
    d.op.set_filters(space, d.filters);
  }

  /// A gradient buffer for the effective filters (a workspace's, filled with
  /// conv2d_filter_gradient).
  Filters<Scalar, memory_space> make_gradient(const char* label) const {
    return Filters<Scalar, memory_space>(std::string(label), m_cout, m_cin, m_k, m_k);
  }

  /// dtheta[offset ...] = the chain rule of `grad` (the gradient w.r.t. the effective filters)
  /// through the zero-mean projection (which is symmetric: subtract the mean again).
  void store_gradient(const ExecSpace& space, const Filters<Scalar, memory_space>& grad,
                      const Params& dtheta, std::int64_t offset) const {
    zero_mean_projection("bilevel::filters::store_gradient", space, grad.data(),
                         dtheta.data() + offset);
  }

  /// Xavier-normal initial filters (std sqrt(2 / (fan_in + fan_out))) into theta, each made
  /// zero-mean when `zero_mean` (default: as the reparametrisation) and non-negative (|z|) when
  /// `absolute`.
  void initialize_xavier(const ExecSpace& space, const Params& theta, std::int64_t offset,
                         std::uint64_t seed, double gain = 1.0, int zero_mean = -1,
                         bool absolute = false) const {
    const double fan_in = double(m_cin) * m_k * m_k, fan_out = double(m_cout) * m_k * m_k;
    const double std_dev = gain * std::sqrt(2.0 / (fan_in + fan_out));
    auto z = host_normals(seed, std::size_t(size()));
    auto host = Kokkos::create_mirror_view(stored_view(theta, offset));
    const int per = m_cin * m_k * m_k;
    for (int o = 0; o < m_cout; ++o) {
      double mean = 0;
      for (int t = 0; t < per; ++t) mean += z[std::size_t(o) * per + t];
      mean = (zero_mean < 0 ? m_zero_mean : zero_mean != 0) ? mean / per : 0.0;
      for (int t = 0; t < per; ++t) {
        const double v = z[std::size_t(o) * per + t] - mean;
        host.data()[std::size_t(o) * per + t] = Scalar(std_dev * (absolute ? std::abs(v) : v));
      }
    }
    Kokkos::deep_copy(space, stored_view(theta, offset), host);
    space.fence();
  }

  /// The stored filters inside a flat parameter vector, as (Cout, Cin, k, k).
  Filters<Scalar, memory_space> stored_view(const Params& theta, std::int64_t offset) const {
    return Filters<Scalar, memory_space>(theta.data() + offset, m_cout, m_cin, m_k,
                                         m_k);  // unmanaged: a window into theta
  }

  const Conv2dOperator<Scalar, ExecSpace>& op() const { return m_op; }
  /// Effective filters (after the zero-mean reparametrisation).
  const Filters<Scalar, memory_space>& filters() const { return m_filters; }
  int out_channels() const { return m_cout; }
  int in_channels() const { return m_cin; }
  int kernel_size() const { return m_k; }

  /// (Public: nvcc requires a function that encloses an extended lambda to be public.)
  /// out = in less each filter's mean over (Cin, k, k) for zero-mean banks, else a copy (both
  /// are m_cout x m_cin x k x k arrays in device memory).
  void zero_mean_projection(const char* label, const ExecSpace& space, const Scalar* in,
                            Scalar* out) const {
    const Filters<const Scalar, memory_space> src(in, m_cout, m_cin, m_k, m_k);
    const Filters<Scalar, memory_space> dst(out, m_cout, m_cin, m_k, m_k);
    const int per = m_cin * m_k * m_k;
    const bool zm = m_zero_mean;
    Kokkos::parallel_for(
        label, Kokkos::RangePolicy<ExecSpace>(space, 0, m_cout), KOKKOS_LAMBDA(int o) {
          const Scalar* w = &src(o, 0, 0, 0);
          double mean = 0;
          if (zm) {
            for (int t = 0; t < per; ++t) mean += w[t];
            mean /= per;
          }
          Scalar* e = &dst(o, 0, 0, 0);
          for (int t = 0; t < per; ++t) e[t] = Scalar(w[t] - mean);
        });
  }

 private:
  int m_cout = 0, m_cin = 0, m_k = 0;
  bool m_zero_mean = true;
  Filters<Scalar, memory_space> m_filters;
  Conv2dOperator<Scalar, ExecSpace> m_op;
};

}  // namespace bilevel::impl
