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

  /// out(s) = R(x_s) for every sample s.
  virtual void energy(const ExecSpace& space, const ConstImages& x, const Sums& out) = 0;
  /// g = grad_x R(x).
  virtual void gradient(const ExecSpace& space, const ConstImages& x, const MutImages& g) = 0;
  /// out(s) = R(x_s) and g = grad_x R(x) together; regularizers override it to share the
  /// forward pass (the lower-level solver needs both at every iterate).
  virtual void energy_and_gradient(const ExecSpace& space, const ConstImages& x, const Sums& out,
                                   const MutImages& g) {
    energy(space, x, out);
    gradient(space, x, g);
  }
  /// The same for the selected samples (nmAPG evaluates the samples still iterating): their
  /// out(s) and g are those of energy_and_gradient; the others' are unspecified. The default
  /// evaluates every sample.
  virtual void energy_and_gradient_selected(const ExecSpace& space, const ConstImages& x,
                                            const Sums& out, const MutImages& g, const Selection&) {
    energy_and_gradient(space, x, out, g);
  }
  /// hv = Hess_xx R(x) v.
  virtual void hessian_vector_product(const ExecSpace& space, const ConstImages& x,
                                      const ConstImages& v, const MutImages& hv) = 0;
  /// dtheta = d/dtheta sum_s <grad_x R(x_s), q_s> = sum_s (d_theta grad_x R(x_s))^T q_s.
  virtual void mixed_product(const ExecSpace& space, const ConstImages& x, const ConstImages& q,
                             const Params& dtheta) = 0;

  /// Fixes the point x of the Hessian for prepared_hessian_vector_product: conjugate gradients
  /// apply one Hessian many times, and a regularizer keeps what the products share (CRR: the
  /// curvature psi''(D W x), one forward pass per solve instead of one per product). x is held,
  /// not copied: leave it unchanged while the products run. set_params keeps the point.
  void prepare_hessian(const ExecSpace& space, const ConstImages& x) {
    check_images("prepare_hessian", x);
    m_hessian_point = x;
    prepare_curvature(space, x);
  }
  /// hv = Hess_xx R(x) v at the prepared x, for the selected samples (default: all). The other
  /// samples of hv receive finite values that callers ignore (zero, or the full product).
  void prepared_hessian_vector_product(const ExecSpace& space, const ConstImages& v,
                                       const MutImages& hv) {
    prepared_hessian_vector_product(space, v, hv, Selection::every(int(hv.extent(0))));
  }
  void prepared_hessian_vector_product(const ExecSpace& space, const ConstImages& v,
                                       const MutImages& hv, const Selection& sel) {
    require(m_hessian_point.data() != nullptr, "bilevel::", name(),
            "::prepared_hessian_vector_product: call prepare_hessian first");
    require_same_shape("bilevel::regularizer::prepared_hessian_vector_product", m_hessian_point, v);
    require_same_shape("bilevel::regularizer::prepared_hessian_vector_product", v, hv);
    require_selection("bilevel::regularizer::prepared_hessian_vector_product", sel,
                      int(v.extent(0)));
    prepared_product(space, v, hv, sel);
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
  /// Enforces the constraints on theta in place (default: none).
  virtual void project(const ExecSpace&) {}
  /// Recomputes what depends on theta (effective filters, normalisation, packing).
  virtual void update(const ExecSpace& space) = 0;
  /// What prepare_hessian keeps for the products at x (default: nothing).
  virtual void prepare_curvature(const ExecSpace&, const ConstImages&) {}
  /// The prepared product (default: the plain product at the prepared point, every sample).
  virtual void prepared_product(const ExecSpace& space, const ConstImages& v, const MutImages& hv,
                                const Selection&) {
    hessian_vector_product(space, m_hessian_point, v, hv);
  }
  /// The point of the last prepare_hessian.
  const ConstImages& hessian_point() const { return m_hessian_point; }
  /// Throws unless x is a batch with this regularizer's channel count; `where` names the method.
  void check_images(const char* where, const ConstImages& x) const {
    require(int(x.extent(1)) == m_channels, "bilevel::", name(), "::", where, ": images have ",
            x.extent(1), " channels, the regularizer was built for ", m_channels);
  }
  /// Makes `v` a batch of shape s (allocating only when the shape changes: once per batch
  /// shape, never per iteration).
  static void ensure(MutImages& v, const char* label, const Shape& s) {
    if (v.data() == nullptr || shape_of(v) != s) v = make_images<Scalar, memory_space>(label, s);
  }
  void require_params_view(const char* where, const Params& dtheta) const {
    require(dtheta.extent(0) == m_theta.extent(0), "bilevel::", name(), "::", where,
            ": gradient vector has ", dtheta.extent(0), " entries, the model has ",
            m_theta.extent(0));
  }

  Params m_theta;

 private:
  int m_channels = 0;
  std::vector<ParamBlock> m_blocks;
  ConstImages m_hessian_point;
};

}  // namespace bilevel
