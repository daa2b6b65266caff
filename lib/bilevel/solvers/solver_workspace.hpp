#pragma once
/// \file
/// The batch-shaped image buffers the solvers of a hypergradient work in, owned in one place.
/// nmAPG and CG run one after the other, so CG's r, p and H p take the slots of nmAPG's y,
/// y_prev and z: one workspace serves both, and the hypergradient solver owns it.

#include <bilevel/core/views.hpp>
#include <string>
#include <vector>

namespace bilevel {

/// \brief Numbered image buffers of one batch shape, allocated and zeroed on first use.
template <class Scalar, class MemorySpace>
class SolverWorkspace {
 public:
  using MutImages = Images<Scalar, MemorySpace>;

  /// Buffer `slot` for batches of shape s: allocated (labelled `label`) and zeroed when first
  /// asked for or when the shape changes, then kept with whatever the last user left in it.
  /// Returned by value: asking for a higher slot may move the others' handles.
  template <class ExecSpace>
  MutImages image(const ExecSpace& space, std::size_t slot, const Shape& s, const char* label) {
    if (m_images.size() <= slot) m_images.resize(slot + 1);
    MutImages& v = m_images[slot];
    if (v.data() == nullptr || shape_of(v) != s) {
      v = make_images<Scalar, MemorySpace>(label, s);
      Kokkos::deep_copy(space, v, Scalar(0));
    }
    return v;
  }

 private:
  std::vector<MutImages> m_images;
};

}  // namespace bilevel
