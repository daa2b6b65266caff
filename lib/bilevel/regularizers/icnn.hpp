#pragma once
/// \file
/// Input-convex neural network, ICNN (main paper section 4.3; DESIGN.md section 3.4):
///   R(x) = sum_{channel, pixel} exp(s) . phi(W_z phi(W_x x + b_x) + b_z),
/// phi the smoothed clipped ReLU (nu = 1e-3), W_x: C -> `hidden` channels and W_z: `hidden` ->
/// `out` channels (default: C, as in the paper's sum over C channels), 5 x 5 convolutions.
/// W_z >= 0 (clamped after every update) makes R convex; W_x starts zero-mean but is free.
/// theta blocks: "wx" (hidden, C, k, k), "bx" (hidden), "wz" (out, hidden, k, k), "bz" (out),
/// "log_scale" (out).

#include <bilevel/core/blas1.hpp>
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
  using typename Base::Selection;
  using typename Base::Sums;
  using memory_space = typename ExecSpace::memory_space;

  InputConvexNet(const ExecSpace& space, int channels, const IcnnOptions& opt = {},
                 std::uint64_t seed = 0)
      : m_opt(opt),
        m_out(opt.out > 0 ? opt.out : channels),
        m_wx(opt.hidden, channels, opt.kernel_size, false),
        m_wz(m_out, opt.hidden, opt.kernel_size, false),
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

  /// \brief The ICNN's scratch, one buffer per quantity (hidden: `hidden` channels, out: `out`).
  struct Workspace final : Base::Workspace {
    MutImages u1;      ///< hidden pre-activation W_x x + b_x
    MutImages a1;      ///< hidden activation phi(u1)
    MutImages back1;   ///< W_z^T g2, then the hidden gradient phi'(u1) W_z^T g2
    MutImages dir1;    ///< W_x v (Hessian product) or W_x q (mixed product)
    MutImages field1;  ///< phi'(u1) dir1
    MutImages prod1;   ///< W_z^T dir2, then the second-order hidden field
    MutImages u2;      ///< output pre-activation W_z a1 + b_z
    MutImages g2;      ///< exp(s) phi'(u2)
    MutImages dir2;    ///< W_z field1, then exp(s) phi''(u2) W_z field1
    Filters<Scalar, memory_space> grad_wx, grad_wz;  ///< of the effective filters
    Kokkos::View<double*, memory_space> sums;        ///< dbx, dbz, dlog_scale
    /// J t: the direction's filters, and the second terms of the tangents (dW_z a1, dW_z^T g2,
    /// dW_x^T g1) before they are added.
    typename impl::FilterBank<Scalar, ExecSpace>::Direction dir_wx, dir_wz;
    MutImages tangent_out, tangent_hidden, tangent_in;
  };
  std::unique_ptr<typename Base::Workspace> make_workspace() const override {
    return std::make_unique<Workspace>();
  }

  // The hooks below launch kernels, and nvcc requires a function that encloses an extended
  // lambda to be public: callers use the checked public calls of the base class instead.
 public:
  void evaluate(const ExecSpace& space, const ConstImages& x, const Sums& out, const MutImages& g,
                const Selection&, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    forward(space, x, w);
    if (out.data() != nullptr) {
      const auto u2 = w.u2;
      const auto es = m_scale;
      const auto phi = m_phi;
      impl::sample_sums(
          "bilevel::icnn::energy", space, shape_of(u2),
          KOKKOS_LAMBDA(int n, int c, int i, int j) {
            return double(es(c) * phi.value(u2(n, c, i, j)));
          },
          out);
    }
    if (g.data() == nullptr) return;
    backward(space, w);
    const auto u1 = w.u1, h1 = w.back1;
    const auto phi = m_phi;
    impl::for_each_pixel(
        "bilevel::icnn::hidden_gradient", space, shape_of(h1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          h1(n, c, i, j) *= phi.d1(u1(n, c, i, j));
        });
    m_wx.op().adjoint(space, h1, g);
  }

  void apply_hessian(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                     const MutImages& hv, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    forward(space, x, w);
    backward(space, w);
    const auto u1 = w.u1, h1 = w.back1, du1 = w.dir1, da1 = w.field1, dh1 = w.prod1;
    const auto u2 = w.u2, du2 = w.dir2;
    const auto es = m_scale;
    const auto phi = m_phi;
    m_wx.op().forward(space, v, du1);
    impl::for_each_pixel(
        "bilevel::icnn::hvp_hidden_in", space, shape_of(du1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          da1(n, c, i, j) = phi.d1(u1(n, c, i, j)) * du1(n, c, i, j);
        });
    m_wz.op().forward(space, da1, du2);
    impl::for_each_pixel(
        "bilevel::icnn::hvp_out", space, shape_of(du2),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          du2(n, c, i, j) *= es(c) * phi.d2(u2(n, c, i, j));
        });
    m_wz.op().adjoint(space, du2, dh1);
    impl::for_each_pixel(
        "bilevel::icnn::hvp_hidden_out", space, shape_of(du1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u1(n, c, i, j);
          dh1(n, c, i, j) =
              phi.d2(u) * du1(n, c, i, j) * h1(n, c, i, j) + phi.d1(u) * dh1(n, c, i, j);
        });
    m_wx.op().adjoint(space, dh1, hv);
  }

  /// Forward mode through grad R = W_x^T (phi'(u1) W_z^T (exp(s) phi'(u2))).
  void compute_jacobian_vector_product(const ExecSpace& space, const ConstImages& x,
                                       const typename Base::ConstParams& t, const MutImages& out,
                                       typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    forward(space, x, w);
    backward(space, w);  // g2, back1 = W_z^T g2
    this->ensure(w.tangent_out, "bilevel::icnn::tangent_out", shape_of(w.u2));
    this->ensure(w.tangent_hidden, "bilevel::icnn::tangent_hidden", shape_of(w.u1));
    this->ensure(w.tangent_in, "bilevel::icnn::tangent_in", shape_of(x));
    m_wx.set_direction(space, t, offset("wx"), w.dir_wx);
    m_wz.set_direction(space, t, offset("wz"), w.dir_wz);
    const std::int64_t obx = offset("bx"), obz = offset("bz"), os_ = offset("log_scale");
    const auto u1 = w.u1, a1 = w.a1, h1 = w.back1, du1 = w.dir1, da1 = w.field1, dh1 = w.prod1;
    const auto u2 = w.u2, g2 = w.g2, du2 = w.dir2, to = w.tangent_out, th = w.tangent_hidden;
    const auto es = m_scale;
    const auto phi = m_phi;
    const Shape hs = shape_of(u1), os = shape_of(u2);
    // du1 = dW_x x + db_x, da1 = phi'(u1) du1.
    w.dir_wx.op.forward(space, x, du1);
    impl::for_each_pixel(
        "bilevel::icnn::jvp_hidden_in", space, hs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar d = du1(n, c, i, j) + t(obx + c);
          du1(n, c, i, j) = d;
          da1(n, c, i, j) = phi.d1(u1(n, c, i, j)) * d;
        });
    // du2 = W_z da1 + dW_z a1 + db_z, dg2 = exp(s) (t_s phi'(u2) + phi''(u2) du2).
    m_wz.op().forward(space, da1, du2);
    w.dir_wz.op.forward(space, a1, to);
    impl::for_each_pixel(
        "bilevel::icnn::jvp_out", space, os,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u2(n, c, i, j);
          const Scalar d = du2(n, c, i, j) + to(n, c, i, j) + t(obz + c);
          du2(n, c, i, j) = es(c) * (t(os_ + c) * phi.d1(u) + phi.d2(u) * d);
        });
    // dh1 = W_z^T dg2 + dW_z^T g2; dg1 = phi''(u1) du1 h1 + phi'(u1) dh1; g1 = phi'(u1) h1.
    m_wz.op().adjoint(space, du2, dh1);
    w.dir_wz.op.adjoint(space, g2, th);
    impl::for_each_pixel(
        "bilevel::icnn::jvp_hidden_out", space, hs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u1(n, c, i, j);
          dh1(n, c, i, j) = phi.d2(u) * du1(n, c, i, j) * h1(n, c, i, j) +
                            phi.d1(u) * (dh1(n, c, i, j) + th(n, c, i, j));
          h1(n, c, i, j) *= phi.d1(u);
        });
    // J t = W_x^T dg1 + dW_x^T g1.
    m_wx.op().adjoint(space, dh1, out);
    w.dir_wx.op.adjoint(space, h1, w.tangent_in);
    axpby(space, Scalar(1), w.tangent_in, Scalar(1), out);
  }

  void compute_mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                             const Params& dtheta, typename Base::Workspace& ws) const override {
    auto& w = this->template workspace_as<Workspace>(ws);
    const int nh = m_opt.hidden, no = m_out;
    if (w.sums.data() == nullptr) {
      w.grad_wx = m_wx.make_gradient("bilevel::icnn::grad_wx");
      w.grad_wz = m_wz.make_gradient("bilevel::icnn::grad_wz");
      w.sums = Kokkos::View<double*, memory_space>("bilevel::icnn::sums", std::size_t(nh + 2 * no));
    }
    // L = <grad R, q> = sum g2 . P2, g2 = exp(s) phi'(u2), P2 = W_z (phi'(u1) . W_x q).
    forward(space, x, w);
    backward(space, w);
    const auto u1 = w.u1, h1 = w.back1, q1 = w.dir1, p1 = w.field1, b1 = w.prod1;
    const auto u2 = w.u2, g2 = w.g2, p2 = w.dir2;
    const auto es = m_scale;
    const auto phi = m_phi;
    m_wx.op().forward(space, q, q1);
    impl::for_each_pixel(
        "bilevel::icnn::mixed_p1", space, shape_of(q1),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          p1(n, c, i, j) = phi.d1(u1(n, c, i, j)) * q1(n, c, i, j);
        });
    m_wz.op().forward(space, p1, p2);
    const Shape os = shape_of(u2), hs = shape_of(u1);
    const auto sums = w.sums;
    const auto ds = Kokkos::subview(sums, std::make_pair(nh + no, nh + 2 * no));
    impl::channel_sums(
        "bilevel::icnn::dlog_scale", space, os,
        KOKKOS_LAMBDA(int n, int c, int i, int j) {
          return double(g2(n, c, i, j) * p2(n, c, i, j));
        },
        ds);
    // W_z: direct term P1 (x) g2, then A2 = exp(s) phi''(u2) P2 through u2 = W_z a1 + b_z.
    conv2d_filter_gradient(space, p1, g2, w.grad_wz);
    impl::for_each_pixel(
        "bilevel::icnn::mixed_a2", space, os,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          p2(n, c, i, j) *= es(c) * phi.d2(u2(n, c, i, j));
        });
    impl::channel_sums(
        "bilevel::icnn::dbz", space, os,
        KOKKOS_LAMBDA(int n, int c, int i, int j) { return double(p2(n, c, i, j)); },
        Kokkos::subview(sums, std::make_pair(nh, nh + no)));
    conv2d_filter_gradient(space, w.a1, p2, w.grad_wz, Scalar(1));
    m_wz.op().adjoint(space, p2, b1);  // B1 = W_z^T A2
    // A1 = phi''(u1) Q1 h1 + phi'(u1) B1 into b1; g1 = phi'(u1) h1 into h1.
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
    conv2d_filter_gradient(space, x, b1, w.grad_wx);
    conv2d_filter_gradient(space, q, h1, w.grad_wx, Scalar(1));
    m_wx.store_gradient(space, w.grad_wx, dtheta, offset("wx"));
    m_wz.store_gradient(space, w.grad_wz, dtheta, offset("wz"));
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

 public:
  const IcnnOptions& options() const { return m_opt; }

 public:  // kernels inside (see above)
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

  std::int64_t offset(const char* name) const { return this->block(name).offset; }
  Kokkos::View<Scalar*, memory_space> block_view(const Params& theta, const char* name) const {
    const auto& b = this->block(name);
    return Kokkos::subview(theta, std::make_pair(b.offset, b.offset + b.size));
  }

  /// u1 = W_x x + b_x, a1 = phi(u1), u2 = W_z a1 + b_z (allocating buffers per batch shape).
  void forward(const ExecSpace& space, const ConstImages& x, Workspace& w) const {
    const Shape hs{int(x.extent(0)), m_opt.hidden, int(x.extent(2)), int(x.extent(3))};
    const Shape os{hs.n, m_out, hs.h, hs.w};
    for (auto* v : {&w.u1, &w.a1, &w.back1, &w.dir1, &w.field1, &w.prod1})
      this->ensure(*v, "bilevel::icnn::hidden", hs);
    for (auto* v : {&w.u2, &w.g2, &w.dir2}) this->ensure(*v, "bilevel::icnn::out", os);
    m_wx.op().forward(space, x, w.u1);
    const auto u1 = w.u1, a1 = w.a1, u2 = w.u2;
    const auto bx = m_bx, bz = m_bz;
    const auto phi = m_phi;
    impl::for_each_pixel(
        "bilevel::icnn::layer1", space, hs,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          const Scalar u = u1(n, c, i, j) + bx(c);
          u1(n, c, i, j) = u;
          a1(n, c, i, j) = phi.value(u);
        });
    m_wz.op().forward(space, w.a1, w.u2);
    impl::for_each_pixel(
        "bilevel::icnn::layer2", space, os,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          u2(n, c, i, j) += bz(c);
        });
  }

  /// w.g2 = exp(s) phi'(u2), w.back1 = W_z^T w.g2.
  void backward(const ExecSpace& space, Workspace& w) const {
    const auto u2 = w.u2, g2 = w.g2;
    const auto es = m_scale;
    const auto phi = m_phi;
    impl::for_each_pixel(
        "bilevel::icnn::out_gradient", space, shape_of(u2),
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          g2(n, c, i, j) = es(c) * phi.d1(u2(n, c, i, j));
        });
    m_wz.op().adjoint(space, w.g2, w.back1);
  }

 private:
  IcnnOptions m_opt;
  int m_out;
  impl::FilterBank<Scalar, ExecSpace> m_wx, m_wz;
  Kokkos::View<Scalar*, memory_space> m_bx, m_bz, m_scale;
  SmoothedClippedRelu<Scalar> m_phi;
};

}  // namespace bilevel
