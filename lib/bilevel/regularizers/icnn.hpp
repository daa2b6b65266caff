#pragma once
/// \file
/// Input-convex neural network, ICNN (main paper section 4.3; DESIGN.md section 3.4):
///   R(x) = sum_{channel, pixel} exp(s) . phi(W_z phi(W_x x + b_x) + b_z),
/// phi the smoothed clipped ReLU (nu = 1e-3), W_x: C -> `hidden` channels and W_z: `hidden` ->
/// `out` channels (default: C, as in the paper's sum over C channels), 5 x 5 convolutions.
/// W_z >= 0 (clamped after every update) makes R convex; W_x starts zero-mean but is free.
/// theta blocks: "wx" (hidden, C, k, k), "bx" (hidden), "wz" (out, hidden, k, k), "bz" (out),
/// "log_scale" (out).

#include <bilevel/potentials/smoothed_clipped_relu.hpp>
#include <bilevel/regularizers/impl/filter_bank.hpp>
#include <bilevel/regularizers/impl/pixel_ops.hpp>

namespace bilevel {

/// \brief Settings of an ICNN.
struct IcnnOptions {
  int hidden = 32;  ///< channels after W_x
  int out = 0;      ///< channels after W_z (0: the image's channel count)
  int kernel_size = 5;
  double nu = 1e-3;  ///< smoothing of the clipped ReLU
  double initial_scale = 1.0;
};

/// \brief Two-layer input-convex network regularizer.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class InputConvexNet final : public Regularizer<Scalar, ExecSpace> {
 public:
  using Base = Regularizer<Scalar, ExecSpace>;
  using typename Base::ConstImages;
  using typename Base::MutImages;
  using typename Base::Params;
  using typename Base::Sums;
  using memory_space = typename ExecSpace::memory_space;

  InputConvexNet(const ExecSpace& space, int channels, const IcnnOptions& opt = {},
                 std::uint64_t seed = 0)
      : m_opt(opt),
        m_out(opt.out > 0 ? opt.out : channels),
        m_wx(opt.hidden, channels, opt.kernel_size, false),
        m_wz(m_out, opt.hidden, opt.kernel_size, false),
        m_sums("bilevel::icnn::sums", std::size_t(opt.hidden + 2 * m_out)),
        m_phi{Scalar(opt.nu)} {
    require(opt.hidden > 0 && opt.nu > 0 && opt.initial_scale > 0,
            "bilevel::icnn: hidden channels, nu and the initial scale must be positive");
    this->define_blocks(channels, {{"wx", m_wx.shape()},
                                   {"bx", {opt.hidden}},
                                   {"wz", m_wz.shape()},
                                   {"bz", {m_out}},
                                   {"log_scale", {m_out}}});
    initialize(space, seed);
  }

  std::string name() const override { return "icnn"; }

  /// W_x zero-mean Xavier normal, W_z |Xavier normal|, biases 0, exp(s) = initial_scale.
  void initialize(const ExecSpace& space, std::uint64_t seed) override {
    Kokkos::deep_copy(space, this->m_theta, Scalar(0));
    m_wx.initialize_xavier(space, this->m_theta, offset("wx"), seed, 1.0, 1, false);
    m_wz.initialize_xavier(space, this->m_theta, offset("wz"), seed + 1, 1.0, 0, true);
    Kokkos::deep_copy(space, block_view(this->m_theta, "log_scale"),
                      Scalar(std::log(m_opt.initial_scale)));
    project(space);
    update(space);
  }

  void energy(const ExecSpace& space, const ConstImages& x, const Sums& out) override {
    this->check_images("energy", x);
    forward(space, x);
    const auto u2 = m_u2;
    const auto es = m_scale;
    const auto phi = m_phi;
    impl::sample_sums(
        "bilevel::icnn::energy", space, shape_of(u2),
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          return double(es(c) * phi.value(u2(n, c, i, j)));
        },
        out);
  }

  void energy_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& out,
                           const MutImages& g) override {
    energy(space, x, out);  // leaves the forward pass in the buffers
    gradient_after_forward(space, g);
  }

  void gradient(const ExecSpace& space, const ConstImages& x, const MutImages& g) override {
    this->check_images("gradient", x);
    require_same_shape("bilevel::icnn::gradient", x, g);
    forward(space, x);
    gradient_after_forward(space, g);
  }

 private:
  void gradient_after_forward(const ExecSpace& space, const MutImages& g) {
    backward(space);  // m_h1 = W_z^T (exp(s) phi'(u2))
    const auto u1 = m_u1, h1 = m_h1;
    const auto phi = m_phi;
    impl::for_each_pixel(
        "bilevel::icnn::hidden_gradient", space, shape_of(h1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          h1(n, c, i, j) *= phi.d1(u1(n, c, i, j));
        });
    m_wx.op().adjoint(space, m_h1, g);
  }

 public:
  void hessian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                              const MutImages& hv) override {
    this->check_images("hessian_vector_product", x);
    require_same_shape("bilevel::icnn::hessian_vector_product", x, v);
    require_same_shape("bilevel::icnn::hessian_vector_product", x, hv);
    forward(space, x);
    backward(space);
    const auto u1 = m_u1, h1 = m_h1, du1 = m_t1, da1 = m_s1, u2 = m_u2, du2 = m_t2;
    const auto es = m_scale;
    const auto phi = m_phi;
    m_wx.op().forward(space, v, m_t1);  // du1 = W_x v
    impl::for_each_pixel(
        "bilevel::icnn::hvp_hidden_in", space, shape_of(du1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          da1(n, c, i, j) = phi.d1(u1(n, c, i, j)) * du1(n, c, i, j);
        });
    m_wz.op().forward(space, m_s1, m_t2);  // du2 = W_z da1
    impl::for_each_pixel(
        "bilevel::icnn::hvp_out", space, shape_of(du2),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          du2(n, c, i, j) *= es(c) * phi.d2(u2(n, c, i, j));
        });
    m_wz.op().adjoint(space, m_t2, m_s1);  // dh1 = W_z^T dg2
    impl::for_each_pixel(
        "bilevel::icnn::hvp_hidden_out", space, shape_of(du1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u1(n, c, i, j);
          da1(n, c, i, j) =
              phi.d2(u) * du1(n, c, i, j) * h1(n, c, i, j) + phi.d1(u) * da1(n, c, i, j);
        });
    m_wx.op().adjoint(space, m_s1, hv);
  }

  void mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                     const Params& dtheta) override {
    this->check_images("mixed_product", x);
    require_same_shape("bilevel::icnn::mixed_product", x, q);
    this->require_params_view("mixed_product", dtheta);
    // L = <grad R, q> = sum g2 . P2, g2 = exp(s) phi'(u2), P2 = W_z (phi'(u1) . W_x q).
    forward(space, x);
    backward(space);  // m_t2 = g2, m_h1 = W_z^T g2
    const auto u1 = m_u1, h1 = m_h1, q1 = m_t1, p1 = m_s1, u2 = m_u2, g2 = m_t2, p2 = m_s2;
    const auto es = m_scale;
    const auto phi = m_phi;
    m_wx.op().forward(space, q, m_t1);  // Q1
    impl::for_each_pixel(
        "bilevel::icnn::mixed_p1", space, shape_of(q1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          p1(n, c, i, j) = phi.d1(u1(n, c, i, j)) * q1(n, c, i, j);
        });
    m_wz.op().forward(space, m_s1, m_s2);  // P2
    const Shape os = shape_of(u2), hs = shape_of(u1);
    const int nh = hs.c, no = os.c;
    const auto sums = m_sums;
    const auto ds = Kokkos::subview(sums, std::make_pair(nh + no, nh + 2 * no));
    impl::channel_sums(
        "bilevel::icnn::dlog_scale", space, os,
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          return double(g2(n, c, i, j) * p2(n, c, i, j));
        },
        ds);
    // W_z: direct term P1 (x) g2, then A2 = exp(s) phi''(u2) P2 through u2 = W_z a1 + b_z.
    conv2d_filter_gradient(space, m_s1, m_t2, m_wz.grad());
    impl::for_each_pixel(
        "bilevel::icnn::mixed_a2", space, os,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          p2(n, c, i, j) *= es(c) * phi.d2(u2(n, c, i, j));
        });
    impl::channel_sums(
        "bilevel::icnn::dbz", space, os,
        KOKKOS_LAMBDA(int n, int c, int i, int j) { return double(p2(n, c, i, j)); },
        Kokkos::subview(sums, std::make_pair(nh, nh + no)));
    conv2d_filter_gradient(space, m_a1, m_s2, m_wz.grad(), Scalar(1));
    m_wz.op().adjoint(space, m_s2, m_s1);  // B1 = W_z^T A2 (P1 no longer needed)
    // A1 = phi''(u1) Q1 h1 + phi'(u1) B1 into s1; g1 = phi'(u1) h1 into h1.
    const auto b1 = m_s1;
    impl::for_each_pixel(
        "bilevel::icnn::mixed_a1", space, hs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u1(n, c, i, j);
          b1(n, c, i, j) = phi.d2(u) * q1(n, c, i, j) * h1(n, c, i, j) + phi.d1(u) * b1(n, c, i, j);
          h1(n, c, i, j) *= phi.d1(u);
        });
    impl::channel_sums(
        "bilevel::icnn::dbx", space, hs,
        KOKKOS_LAMBDA(int n, int c, int i, int j) { return double(b1(n, c, i, j)); },
        Kokkos::subview(sums, std::make_pair(0, nh)));
    conv2d_filter_gradient(space, x, m_s1, m_wx.grad());
    conv2d_filter_gradient(space, q, m_h1, m_wx.grad(), Scalar(1));
    m_wx.store_gradient(space, dtheta, offset("wx"));
    m_wz.store_gradient(space, dtheta, offset("wz"));
    const std::int64_t obx = offset("bx"), obz = offset("bz"), os_ = offset("log_scale");
    Kokkos::parallel_for(
        "bilevel::icnn::store_sums", Kokkos::RangePolicy<ExecSpace>(space, 0, nh + 2 * no),
        KOKKOS_LAMBDA(int t) {
          if (t < nh)
            dtheta(obx + t) = Scalar(sums(t));
          else if (t < nh + no)
            dtheta(obz + t - nh) = Scalar(sums(t));
          else
            dtheta(os_ + t - nh - no) = Scalar(sums(t));
        });
  }

  const IcnnOptions& options() const { return m_opt; }

 protected:
  /// W_z >= 0: clamp negative weights to zero (main paper section 4.3).
  void project(const ExecSpace& space) override {
    const auto wz = block_view(this->m_theta, "wz");
    Kokkos::parallel_for(
        "bilevel::icnn::clamp_wz", Kokkos::RangePolicy<ExecSpace>(space, 0, wz.extent(0)),
        KOKKOS_LAMBDA(std::int64_t t) {
          if (wz(t) < Scalar(0)) wz(t) = Scalar(0);
        });
  }

  void update(const ExecSpace& space) override {
    m_wx.update(space, this->m_theta, offset("wx"));
    m_wz.update(space, this->m_theta, offset("wz"));
    m_bx = block_view(this->m_theta, "bx");
    m_bz = block_view(this->m_theta, "bz");
    const auto ls = block_view(this->m_theta, "log_scale");
    if (m_scale.extent(0) != ls.extent(0))
      m_scale = Kokkos::View<Scalar*, memory_space>("bilevel::icnn::scale", ls.extent(0));
    const auto es = m_scale;
    Kokkos::parallel_for(
        "bilevel::icnn::scale", Kokkos::RangePolicy<ExecSpace>(space, 0, es.extent(0)),
        KOKKOS_LAMBDA(int c) { es(c) = math::exp(ls(c)); });
  }

 private:
  std::int64_t offset(const char* name) const { return this->block(name).offset; }
  Kokkos::View<Scalar*, memory_space> block_view(const Params& theta, const char* name) const {
    const auto& b = this->block(name);
    return Kokkos::subview(theta, std::make_pair(b.offset, b.offset + b.size));
  }

  /// u1 = W_x x + b_x, a1 = phi(u1), u2 = W_z a1 + b_z (allocating buffers per batch shape).
  void forward(const ExecSpace& space, const ConstImages& x) {
    const Shape hs{int(x.extent(0)), m_opt.hidden, int(x.extent(2)), int(x.extent(3))};
    const Shape os{hs.n, m_out, hs.h, hs.w};
    for (auto* v : {&m_u1, &m_a1, &m_h1, &m_t1, &m_s1})
      this->ensure(*v, "bilevel::icnn::hidden", hs);
    for (auto* v : {&m_u2, &m_t2, &m_s2}) this->ensure(*v, "bilevel::icnn::out", os);
    m_wx.op().forward(space, x, m_u1);
    const auto u1 = m_u1, a1 = m_a1, u2 = m_u2;
    const auto bx = m_bx, bz = m_bz;
    const auto phi = m_phi;
    impl::for_each_pixel(
        "bilevel::icnn::layer1", space, hs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u1(n, c, i, j) + bx(c);
          u1(n, c, i, j) = u;
          a1(n, c, i, j) = phi.value(u);
        });
    m_wz.op().forward(space, m_a1, m_u2);
    impl::for_each_pixel(
        "bilevel::icnn::layer2", space, os,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          u2(n, c, i, j) += bz(c);
        });
  }

  /// m_t2 = exp(s) phi'(u2), m_h1 = W_z^T m_t2.
  void backward(const ExecSpace& space) {
    const auto u2 = m_u2, g2 = m_t2;
    const auto es = m_scale;
    const auto phi = m_phi;
    impl::for_each_pixel(
        "bilevel::icnn::out_gradient", space, shape_of(u2),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          g2(n, c, i, j) = es(c) * phi.d1(u2(n, c, i, j));
        });
    m_wz.op().adjoint(space, m_t2, m_h1);
  }

  IcnnOptions m_opt;
  int m_out;
  impl::FilterBank<Scalar, ExecSpace> m_wx, m_wz;
  Kokkos::View<double*, memory_space> m_sums;
  Kokkos::View<Scalar*, memory_space> m_bx, m_bz, m_scale;
  SmoothedClippedRelu<Scalar> m_phi;
  MutImages m_u1, m_a1, m_h1, m_t1, m_s1, m_u2, m_t2, m_s2;
};

}  // namespace bilevel
