#pragma once
/// \file
/// The interface every regularizer R_theta implements (DESIGN.md section 3) and that the
/// lower-level solver and the hypergradient use. Dispatch is virtual on the host only: each
/// method launches the regularizer's own kernels, so a fifth regularizer is one new class and
/// no solver changes.
///
/// Conventions: theta is one flat device View with named blocks; R(x) is summed over channels
/// and pixels of each sample; mixed_product sums over the samples of the batch.

#include <bilevel/core/sample_selection.hpp>
#include <bilevel/core/views.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bilevel {

/// \brief A named slice of the parameter vector: name, shape (outermost first), offset, size.
struct ParamBlock {
  std::string name;
  std::vector<int> shape;
  std::int64_t offset = 0;
  std::int64_t size = 0;
};

/// \brief A learnable convex regularizer R_theta on image batches (N, C, H, W).
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Regularizer {
 public:
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;
  using MutImages = Images<Scalar, memory_space>;
  using Params = Kokkos::View<Scalar*, memory_space>;
  using ConstParams = Kokkos::View<const Scalar*, memory_space>;
  using Sums = PerSample<double, memory_space>;
  using Selection = SampleSelection<memory_space>;

  virtual ~Regularizer() = default;

  /// Short name used in logs and checkpoints ("tv", "foe", "crr", "icnn").
  virtual std::string name() const = 0;
  /// Number of image channels the regularizer is built for.
  int channels() const { return m_channels; }
  /// The blocks of theta in order, covering it exactly.
  const std::vector<ParamBlock>& blocks() const { return m_blocks; }
  /// Length of theta.
  std::int64_t num_params() const { return m_theta.extent(0); }
  /// theta (read-only: change it through set_params so derived quantities follow).
  ConstParams params() const { return m_theta; }

  /// Replaces theta (copied), applies the constraints and recomputes derived quantities.
  void set_params(const ExecSpace& space, const ConstParams& theta) {
    require(theta.extent(0) == m_theta.extent(0), "bilevel::", name(),
            "::set_params: parameter vector has ", theta.extent(0), " entries, the model has ",
            m_theta.extent(0));
    require_finite(space, theta);
    Kokkos::deep_copy(space, m_theta, theta);
    project(space);
    update(space);
  }
  /// Host convenience: set theta from host values.
  void set_params(const ExecSpace& space, const std::vector<Scalar>& theta) {
    require(std::int64_t(theta.size()) == num_params(), "bilevel::", name(),
            "::set_params: parameter vector has ", theta.size(), " entries, the model has ",
            num_params());
    Kokkos::View<const Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(
        theta.data(), theta.size());
    for (std::size_t k = 0; k < theta.size(); ++k)
      require(std::isfinite(double(theta[k])), "bilevel::", name(), "::set_params: parameter ", k,
              " is not finite");
    Kokkos::deep_copy(space, m_theta, h);
    space.fence();  // the caller's host vector may go as soon as we return
    project(space);
    update(space);
  }
  /// Host copy of theta (fences).
  std::vector<Scalar> params_host() const {
    std::vector<Scalar> out(static_cast<std::size_t>(num_params()));
    Kokkos::View<Scalar*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(out.data(),
                                                                                        out.size());
    Kokkos::deep_copy(h, m_theta);
    return out;
  }

  /// State beyond theta that derived quantities depend on (CRR: the start vector of the last
  /// spectral-norm computation), saved in checkpoints so that a resumed run is bit-identical.
  /// Restore it with set_internal_state before set_params.
  virtual std::vector<double> internal_state() const { return {}; }
  virtual void set_internal_state(const ExecSpace&, const std::vector<double>& state) {
    require(state.empty(), "bilevel::", name(), ": unexpected internal state of ", state.size(),
            " values");
  }
  /// While held, set_params keeps what the internal state defines instead of recomputing it
  /// (CRR: the spectral vector v, so that sigma = ||W v|| is one smooth function of theta with
  /// the derivative the mixed product uses, and a change of theta costs one pass of W instead
  /// of a Lanczos refresh): for perturbations of theta that are undone. Setting the original
  /// theta again under the hold restores the model and its internal state bit for bit;
  /// set_internal_state still applies, and the next set_params after it recomputes.
  virtual void hold_internal_state(bool) {}
  virtual bool internal_state_held() const { return false; }

  /// Seeded initialisation as in the papers, then constraints and derived quantities.
  virtual void initialize(const ExecSpace& space, std::uint64_t seed) = 0;

  /// \brief The scratch of one caller: every buffer the computations below write lives in a
  /// workspace, never in the model, so the model is read-only while it evaluates and one
  /// model serves several callers (two execution-space instances, the lower-level problem
  /// and the test evaluation) each with its own workspace. Each regularizer derives its own
  /// type with one named buffer per quantity (make_workspace); buffers are allocated on first
  /// use for a batch shape and kept.
  class Workspace {
   public:
    virtual ~Workspace() = default;

   private:
    friend class Regularizer;
    ConstImages m_hessian_point;  // the point of the last prepare_hessian
  };
  /// A fresh workspace for this regularizer's computations.
  virtual std::unique_ptr<Workspace> make_workspace() const {
    return std::make_unique<Workspace>();
  }

  // The computations, const on the model: all scratch in `ws` (made by make_workspace of a
  // regularizer of the same type).

  /// out(s) = R(x_s) for every sample s.
  void energy(const ExecSpace& space, const ConstImages& x, const Sums& out, Workspace& ws) const {
    check_images("energy", x);
    evaluate(space, x, out, MutImages(), Selection::every(int(x.extent(0))), ws);
  }
  /// g = grad_x R(x).
  void gradient(const ExecSpace& space, const ConstImages& x, const MutImages& g,
                Workspace& ws) const {
    check_images("gradient", x);
    require_same_shape(where("gradient").c_str(), x, g);
    evaluate(space, x, Sums(), g, Selection::every(int(x.extent(0))), ws);
  }
  /// out(s) = R(x_s) and g = grad_x R(x) in one pass (the lower-level solver needs both).
  void energy_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& out,
                           const MutImages& g, Workspace& ws) const {
    energy_and_gradient_selected(space, x, out, g, Selection::every(int(x.extent(0))), ws);
  }
  /// The same for the selected samples (nmAPG evaluates the samples still iterating): their
  /// out(s) and g are those of energy_and_gradient; the others' are unspecified.
  void energy_and_gradient_selected(const ExecSpace& space, const ConstImages& x, const Sums& out,
                                    const MutImages& g, const Selection& sel, Workspace& ws) const {
    check_images("energy_and_gradient", x);
    require_same_shape(where("energy_and_gradient").c_str(), x, g);
    require_selection(where("energy_and_gradient").c_str(), sel, int(x.extent(0)));
    evaluate(space, x, out, g, sel, ws);
  }
  /// hv = Hess_xx R(x) v.
  void hessian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                              const MutImages& hv, Workspace& ws) const {
    check_images("hessian_vector_product", x);
    require_same_shape(where("hessian_vector_product").c_str(), x, v);
    require_same_shape(where("hessian_vector_product").c_str(), x, hv);
    apply_hessian(space, x, v, hv, ws);
  }
  /// dtheta = d/dtheta sum_s <grad_x R(x_s), q_s> = sum_s (d_theta grad_x R(x_s))^T q_s.
  void mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                     const Params& dtheta, Workspace& ws) const {
    check_images("mixed_product", x);
    require_same_shape(where("mixed_product").c_str(), x, q);
    require(dtheta.extent(0) == m_theta.extent(0), where("mixed_product"), ": gradient vector has ",
            dtheta.extent(0), " entries, the model has ", m_theta.extent(0));
    compute_mixed_product(space, x, q, dtheta, ws);
  }
  /// out = J t = d/dtau grad_x R_{theta + tau t}(x) at tau = 0: the directional derivative of
  /// the gradient in theta, exact, with the model untouched (the error bound's |J| estimate).
  /// Its adjoint is the mixed product: <J t, q> = <t, mixed_product(x, q)>. Like the mixed
  /// product it differentiates what the model evaluates (CRR: sigma = ||W v|| for the model's
  /// v), and it ignores the constraints that set_params applies (ICNN's W_z >= 0 clamp).
  void jacobian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstParams& t,
                               const MutImages& out, Workspace& ws) const {
    check_images("jacobian_vector_product", x);
    require_same_shape(where("jacobian_vector_product").c_str(), x, out);
    require(t.extent(0) == m_theta.extent(0), where("jacobian_vector_product"), ": direction has ",
            t.extent(0), " entries, the model has ", m_theta.extent(0));
    compute_jacobian_vector_product(space, x, t, out, ws);
  }
  /// Fixes the point x of the Hessian for prepared_hessian_vector_product: conjugate gradients
  /// apply one Hessian many times, and a regularizer keeps what the products share in `ws`
  /// (CRR: the curvature psi''(D W x), one forward pass per solve instead of one per product).
  /// x is held, not copied: leave it unchanged while the products run. A later change of theta
  /// keeps the point (the products then recompute what they share).
  void prepare_hessian(const ExecSpace& space, const ConstImages& x, Workspace& ws) const {
    check_images("prepare_hessian", x);
    ws.m_hessian_point = x;
    prepare_curvature(space, x, ws);
  }
  /// hv = Hess_xx R(x) v at the prepared x, for the selected samples. The other samples of hv
  /// receive finite values that callers ignore (zero, or the full product).
  void prepared_hessian_vector_product(const ExecSpace& space, const ConstImages& v,
                                       const MutImages& hv, const Selection& sel,
                                       Workspace& ws) const {
    require(ws.m_hessian_point.data() != nullptr, where("prepared_hessian_vector_product"),
            ": call prepare_hessian first");
    require_same_shape("bilevel::regularizer::prepared_hessian_vector_product", ws.m_hessian_point,
                       v);
    require_same_shape("bilevel::regularizer::prepared_hessian_vector_product", v, hv);
    require_selection("bilevel::regularizer::prepared_hessian_vector_product", sel,
                      int(v.extent(0)));
    prepared_product(space, ws.m_hessian_point, v, hv, sel, ws);
  }

  // The same computations in the model's own workspace (one caller at a time).

  void energy(const ExecSpace& space, const ConstImages& x, const Sums& out) {
    energy(space, x, out, own_workspace());
  }
  void gradient(const ExecSpace& space, const ConstImages& x, const MutImages& g) {
    gradient(space, x, g, own_workspace());
  }
  void energy_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& out,
                           const MutImages& g) {
    energy_and_gradient(space, x, out, g, own_workspace());
  }
  void energy_and_gradient_selected(const ExecSpace& space, const ConstImages& x, const Sums& out,
                                    const MutImages& g, const Selection& sel) {
    energy_and_gradient_selected(space, x, out, g, sel, own_workspace());
  }
  void hessian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                              const MutImages& hv) {
    hessian_vector_product(space, x, v, hv, own_workspace());
  }
  void mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                     const Params& dtheta) {
    mixed_product(space, x, q, dtheta, own_workspace());
  }
  void jacobian_vector_product(const ExecSpace& space, const ConstImages& x, const ConstParams& t,
                               const MutImages& out) {
    jacobian_vector_product(space, x, t, out, own_workspace());
  }
  void prepare_hessian(const ExecSpace& space, const ConstImages& x) {
    prepare_hessian(space, x, own_workspace());
  }
  void prepared_hessian_vector_product(const ExecSpace& space, const ConstImages& v,
                                       const MutImages& hv) {
    prepared_hessian_vector_product(space, v, hv, Selection::every(int(hv.extent(0))),
                                    own_workspace());
  }
  void prepared_hessian_vector_product(const ExecSpace& space, const ConstImages& v,
                                       const MutImages& hv, const Selection& sel) {
    prepared_hessian_vector_product(space, v, hv, sel, own_workspace());
  }

 protected:
  /// Declares the blocks (in order) and allocates theta.
  void define_blocks(int channels, std::vector<ParamBlock> blocks) {
    m_channels = channels;
    std::int64_t offset = 0;
    for (auto& b : blocks) {
      b.size = 1;
      for (int e : b.shape) b.size *= e;
      b.offset = offset;
      offset += b.size;
    }
    m_blocks = std::move(blocks);
    m_theta = Params("bilevel::" + name() + "::theta", offset);
  }
  /// The block called `block_name`.
  const ParamBlock& block(const std::string& block_name) const {
    for (const auto& b : m_blocks)
      if (b.name == block_name) return b;
    throw Error(impl::concat("bilevel::", name(), ": no parameter block '", block_name, "'"));
  }

 public:  // a kernel inside: nvcc requires the enclosing function to be public
  /// Throws naming the first non-finite entry of theta.
  void require_finite(const ExecSpace& space, const ConstParams& theta) const {
    // The first non-finite entry: a Min whose identity (the largest index) means "none".
    const std::int64_t n = std::int64_t(theta.extent(0));
    std::int64_t bad = n;
    Kokkos::parallel_reduce(
        "bilevel::regularizer::check_finite",
        Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
        KOKKOS_LAMBDA(std::int64_t k, std::int64_t & first) {
          if (!math::isfinite(double(theta(k))) && k < first) first = k;
        },
        Kokkos::Min<std::int64_t>(bad));
    require(bad >= n, "bilevel::", name(), "::set_params: parameter ", bad, " is not finite");
  }

 protected:
  /// Enforces the constraints on theta in place (default: none).
  virtual void project(const ExecSpace&) {}
  /// Recomputes what depends on theta (effective filters, normalisation, packing).
  virtual void update(const ExecSpace& space) = 0;

  /// The evaluation every regularizer implements: for the selected samples, out(s) = R(x_s)
  /// when `out` is allocated and g = grad_x R(x) when `g` is (the others' values are
  /// unspecified). Arguments are checked by the caller.
  virtual void evaluate(const ExecSpace& space, const ConstImages& x, const Sums& out,
                        const MutImages& g, const Selection& sel, Workspace& ws) const = 0;
  /// hv = Hess_xx R(x) v (arguments checked).
  virtual void apply_hessian(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                             const MutImages& hv, Workspace& ws) const = 0;
  /// dtheta = (d_theta grad_x R(x))^T q summed over the batch (arguments checked).
  virtual void compute_mixed_product(const ExecSpace& space, const ConstImages& x,
                                     const ConstImages& q, const Params& dtheta,
                                     Workspace& ws) const = 0;
  /// out = J t (arguments checked).
  virtual void compute_jacobian_vector_product(const ExecSpace& space, const ConstImages& x,
                                               const ConstParams& t, const MutImages& out,
                                               Workspace& ws) const = 0;
  /// What prepare_hessian keeps in `ws` for the products at x (default: nothing).
  virtual void prepare_curvature(const ExecSpace&, const ConstImages&, Workspace&) const {}
  /// The prepared product at x (default: the plain product at x, every sample).
  virtual void prepared_product(const ExecSpace& space, const ConstImages& x, const ConstImages& v,
                                const MutImages& hv, const Selection&, Workspace& ws) const {
    apply_hessian(space, x, v, hv, ws);
  }

  /// `ws` as the derived workspace type W of this regularizer (one clear error otherwise).
  template <class W>
  W& workspace_as(Workspace& ws) const {
    auto* w = dynamic_cast<W*>(&ws);
    require(w != nullptr, "bilevel::", name(),
            ": the workspace was made by another regularizer type (use make_workspace)");
    return *w;
  }
  /// Throws unless x is a batch with this regularizer's channel count; `method` names the call.
  void check_images(const char* method, const ConstImages& x) const {
    require(int(x.extent(1)) == m_channels, "bilevel::", name(), "::", method, ": images have ",
            x.extent(1), " channels, the regularizer was built for ", m_channels);
  }
  /// Makes `v` a batch of shape s (allocating only when the shape changes: once per batch
  /// shape, never per iteration).
  static void ensure(MutImages& v, const char* label, const Shape& s) {
    if (v.data() == nullptr || shape_of(v) != s) v = make_images<Scalar, memory_space>(label, s);
  }

  Params m_theta;

 private:
  std::string where(const char* method) const {
    return impl::concat("bilevel::", name(), "::", method);
  }
  Workspace& own_workspace() {
    if (!m_own_workspace) m_own_workspace = make_workspace();
    return *m_own_workspace;
  }

  int m_channels = 0;
  std::vector<ParamBlock> m_blocks;
  std::unique_ptr<Workspace> m_own_workspace;  // the convenience calls' workspace
};

}  // namespace bilevel
