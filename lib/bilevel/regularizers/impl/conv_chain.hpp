#pragma once
/// \file
/// A chain of convolution layers W = W_L ... W_1 (no biases or activations between them, as in
/// the CRR's multi-layer W): forward with the intermediate activations kept, the adjoint, and
/// the backpropagation of <a, W x> to every layer's filters.

#include <bilevel/core/blas1.hpp>
#include <bilevel/regularizers/impl/filter_bank.hpp>
#include <vector>

namespace bilevel::impl {

template <class Scalar, class ExecSpace>
class ConvChain {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;
  using Selection = SampleSelection<memory_space>;

  /// Activations of one input through the chain: acts[l] = W_l ... W_1 x (acts[L-1] = W x).
  struct Activations {
    std::vector<MutImages> acts;
    std::vector<MutImages> back;  // backpropagated signals, one per hidden layer (depth - 1)
  };

  ConvChain() = default;
  /// channels = {C0, C1, ..., CL}: layer l maps C(l-1) to C(l) channels with k x k filters.
  ConvChain(const std::vector<int>& channels, int k) {
    for (std::size_t l = 1; l < channels.size(); ++l)
      m_layers.emplace_back(channels[l], channels[l - 1], k, true);
  }

  std::size_t depth() const { return m_layers.size(); }
  FilterBank<Scalar, ExecSpace>& layer(std::size_t l) { return m_layers[l]; }
  const FilterBank<Scalar, ExecSpace>& layer(std::size_t l) const { return m_layers[l]; }
  int in_channels() const { return m_layers.front().in_channels(); }
  int out_channels() const { return m_layers.back().out_channels(); }

  /// Buffers for inputs of batch shape s (allocated when the shape changes only). With `share`,
  /// the backward scratch is taken from another input's activations of the same shape: the
  /// signals are transient, so two inputs never need them at the same time.
  void ensure(Activations& a, const Shape& s, const char* label,
              const Activations* share = nullptr) const {
    a.acts.resize(depth());
    a.back.resize(depth() - 1);  // no signal is ever stored at the output layer
    for (std::size_t l = 0; l < depth(); ++l) {
      const Shape ls{s.n, m_layers[l].out_channels(), s.h, s.w};
      ensure_view(a.acts[l], label, ls);
      if (l + 1 == depth()) continue;
      if (share && share->back.size() == a.back.size() && share->back[l].data() != nullptr &&
          shape_of(share->back[l]) == ls)
        a.back[l] = share->back[l];
      else
        ensure_view(a.back[l], label, ls);
    }
  }

  /// a.acts[l] = W_l ... W_1 x; returns W x (a.acts.back()).
  const MutImages& forward(const ExecSpace& space, const ConstImages& x, Activations& a,
                           const Activations* share = nullptr) const {
    return forward(space, x, a, share, Selection::every(int(x.extent(0))));
  }
  /// The same for the selected samples only (the others' activations are left as they are).
  const MutImages& forward(const ExecSpace& space, const ConstImages& x, Activations& a,
                           const Activations* share, const Selection& sel) const {
    ensure(a, shape_of(x), "bilevel::conv_chain::activations", share);
    ConstImages in = x;
    for (std::size_t l = 0; l < depth(); ++l) {
      m_layers[l].op().forward(space, in, a.acts[l], sel);
      in = a.acts[l];
    }
    return a.acts.back();
  }

  /// out = W^T y, using a.back as scratch (y: output-channel batch).
  void adjoint(const ExecSpace& space, const ConstImages& y, const MutImages& out,
               Activations& a) const {
    adjoint(space, y, out, a, Selection::every(int(out.extent(0))));
  }
  /// The same for the selected samples only (the others of out are left as they are).
  void adjoint(const ExecSpace& space, const ConstImages& y, const MutImages& out, Activations& a,
               const Selection& sel) const {
    ensure(a, Shape{int(out.extent(0)), 1, int(out.extent(2)), int(out.extent(3))},
           "bilevel::conv_chain::activations");
    ConstImages in = y;
    for (std::size_t l = depth(); l-- > 1;) {
      m_layers[l].op().adjoint(space, in, a.back[l - 1], sel);
      in = a.back[l - 1];
    }
    m_layers[0].op().adjoint(space, in, out, sel);
  }

  /// Gradient buffers for every layer's effective filters (a workspace's).
  using Gradients = std::vector<Filters<Scalar, memory_space>>;
  Gradients make_gradients() const {
    Gradients g;
    for (const auto& l : m_layers) g.push_back(l.make_gradient("bilevel::conv_chain::gradient"));
    return g;
  }

  /// Adds d<top, W x>/dK_l to every layer's gradient (beta = 0 overwrites, 1 adds), with
  /// `forward` holding the activations of x (read) and `scratch.back` the backpropagated
  /// signals (written; `scratch` may be `forward` itself).
  void backprop_filters(const ExecSpace& space, const ConstImages& x, const ConstImages& top,
                        const Activations& forward, Activations& scratch, const Gradients& grads,
                        Scalar beta) const {
    ConstImages signal = top;
    for (std::size_t l = depth(); l-- > 0;) {
      const ConstImages input = l == 0 ? x : ConstImages(forward.acts[l - 1]);
      conv2d_filter_gradient(space, input, signal, grads[l], beta);
      if (l > 0) {
        m_layers[l].op().adjoint(space, signal, scratch.back[l - 1]);
        signal = scratch.back[l - 1];
      }
    }
  }

  /// Directions of every layer's filters, dW_l (a workspace's, for derivatives in theta).
  using Directions = std::vector<typename FilterBank<Scalar, ExecSpace>::Direction>;
  /// dW_l of the direction t of theta, layer l's filters at offsets[l].
  template <class P>
  void set_directions(const ExecSpace& space, const P& t, const std::vector<std::int64_t>& offsets,
                      Directions& d) const {
    d.resize(depth());
    for (std::size_t l = 0; l < depth(); ++l) m_layers[l].set_direction(space, t, offsets[l], d[l]);
  }

  /// Forward mode: da.acts[l] = d(W_l ... W_1) x = W_l da.acts[l-1] + dW_l a.acts[l-1] for the
  /// directions d, with a.acts the activations of x; tmp.acts: scratch. Returns d(W x).
  const MutImages& forward_tangent(const ExecSpace& space, const ConstImages& x,
                                   const Activations& a, const Directions& d, Activations& da,
                                   Activations& tmp) const {
    ensure(da, shape_of(x), "bilevel::conv_chain::tangent");
    ensure(tmp, shape_of(x), "bilevel::conv_chain::tangent_scratch");
    for (std::size_t l = 0; l < depth(); ++l) {
      d[l].op.forward(space, l == 0 ? x : ConstImages(a.acts[l - 1]), da.acts[l]);
      if (l == 0) continue;
      m_layers[l].op().forward(space, da.acts[l - 1], tmp.acts[l]);
      axpby(space, Scalar(1), tmp.acts[l], Scalar(1), da.acts[l]);
    }
    return da.acts.back();
  }

  /// Adjoint mode of the tangent: out = W^T dy + dW^T y, with a.back holding y's
  /// backpropagated signals (left by adjoint(y, ..., a)); db.back, tmp.back and tmp_in (an
  /// input-shaped batch): scratch.
  void adjoint_tangent(const ExecSpace& space, const ConstImages& y, const ConstImages& dy,
                       const Activations& a, const Directions& d, Activations& db, Activations& tmp,
                       const MutImages& tmp_in, const MutImages& out) const {
    ConstImages signal = y, dsignal = dy;
    for (std::size_t l = depth(); l-- > 1;) {
      m_layers[l].op().adjoint(space, dsignal, db.back[l - 1]);
      d[l].op.adjoint(space, signal, tmp.back[l - 1]);
      axpby(space, Scalar(1), tmp.back[l - 1], Scalar(1), db.back[l - 1]);
      signal = a.back[l - 1], dsignal = db.back[l - 1];
    }
    m_layers[0].op().adjoint(space, dsignal, out);
    d[0].op.adjoint(space, signal, tmp_in);
    axpby(space, Scalar(1), tmp_in, Scalar(1), out);
  }

  std::int64_t num_filter_params() const {
    std::int64_t n = 0;
    for (const auto& l : m_layers) n += l.size();
    return n;
  }

 private:
  static void ensure_view(MutImages& v, const char* label, const Shape& s) {
    if (v.data() == nullptr || shape_of(v) != s) v = make_images<Scalar, memory_space>(label, s);
  }

  std::vector<FilterBank<Scalar, ExecSpace>> m_layers;
};

}  // namespace bilevel::impl
