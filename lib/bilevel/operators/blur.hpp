#pragma once
/// \file
/// A = Gaussian blur: deblurring (DESIGN.md section 2). Each channel is convolved with the same
/// normalised k x k Gaussian (default 7 x 7, standard deviation 2).
/// Boundary rule: zero padding ("same" size), so A is a plain matrix whose transpose is the
/// correlation with the flipped kernel; the Gaussian is symmetric, so A^T applies the same
/// stencil, still with zeros outside the image. Pixels near the border lose mass (A 1 < 1 there).

#include <bilevel/conv/conv2d.hpp>
#include <bilevel/operators/forward_operator.hpp>
#include <cmath>
#include <vector>

namespace bilevel {

/// \brief The normalised k x k Gaussian kernel of standard deviation `std_dev` (host values).
inline std::vector<double> gaussian_kernel(int size, double std_dev) {
  require(size % 2 == 1 && size >= 1, "gaussian_kernel: size must be odd, got ", size);
  require(std_dev > 0, "gaussian_kernel: standard deviation must be positive, got ", std_dev);
  std::vector<double> k(std::size_t(size) * size);
  const int r = size / 2;
  double sum = 0;
  for (int a = 0; a < size; ++a)
    for (int b = 0; b < size; ++b)
      sum += k[a * size + b] =
          std::exp(-((a - r) * (a - r) + (b - r) * (b - r)) / (2 * std_dev * std_dev));
  for (double& v : k) v /= sum;
  return k;
}

/// \brief Channel-wise Gaussian blur with zero boundary.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class BlurOperator final : public ForwardOperator<Scalar, ExecSpace> {
 public:
  using Base = ForwardOperator<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;

  explicit BlurOperator(const ExecSpace& space, int size = 7, double std_dev = 2.0)
      : m_conv(1, 1, size), m_size(size), m_std(std_dev) {
    const auto host = gaussian_kernel(size, std_dev);
    Filters<Scalar, typename ExecSpace::memory_space> w("bilevel::blur::kernel", 1, 1, size, size);
    auto hw = Kokkos::create_mirror_view(w);
    for (int a = 0; a < size; ++a)
      for (int b = 0; b < size; ++b) hw(0, 0, a, b) = Scalar(host[a * size + b]);
    Kokkos::deep_copy(space, w, hw);
    m_conv.set_filters(space, w);
    space.fence();  // hw dies here
  }

  void apply(const ExecSpace& space, const ConstImages& x, const MutImages& y) const override {
    require_same_shape("bilevel::BlurOperator::apply", x, y);
    m_conv.forward(space, channels_as_samples(x), channels_as_samples(y));
  }
  void adjoint(const ExecSpace& space, const ConstImages& y, const MutImages& x) const override {
    require_same_shape("bilevel::BlurOperator::adjoint", y, x);
    m_conv.adjoint(space, channels_as_samples(y), channels_as_samples(x));
  }
  void normal(const ExecSpace& space, const ConstImages& x, const MutImages& out) const override {
    require_same_shape("bilevel::BlurOperator::normal", x, out);
    if (shape_of(m_tmp) != shape_of(x))  // once per batch shape, never per iteration
      m_tmp =
          make_images<Scalar, typename ExecSpace::memory_space>("bilevel::blur::tmp", shape_of(x));
    apply(space, x, m_tmp);
    adjoint(space, m_tmp, out);
  }
  double normal_min_eigenvalue() const override { return 0.0; }
  /// ||A|| <= ||kernel||_1 = 1 (Young's inequality), so ||A^T A|| <= 1.
  double normal_norm() const override { return 1.0; }
  std::string name() const override { return "blur"; }
  int kernel_size() const { return m_size; }
  double std_dev() const { return m_std; }

 private:
  // (N, C, H, W) contiguous is (N*C, 1, H, W): every channel blurred alike, no wasted work.
  template <class V>
  static auto channels_as_samples(const V& v) {
    using R = Kokkos::View<typename V::value_type****, Kokkos::LayoutRight,
                           typename V::memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    return R(v.data(), v.extent(0) * v.extent(1), 1, v.extent(2), v.extent(3));
  }

  Conv2dOperator<Scalar, ExecSpace> m_conv;
  int m_size;
  double m_std;
  mutable MutImages m_tmp;
};

}  // namespace bilevel
