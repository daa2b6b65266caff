#pragma once
/// \file
/// The imaging task of a training run (DESIGN.md section 2): which forward operator, which
/// noise, and the data set of clean images with their simulated measurements. Measurements and
/// masks are made once, keyed by sample id, so every draw of a sample sees the same data.

#include <bilevel/core/noise.hpp>
#include <bilevel/operators/blur.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/operators/mask.hpp>
#include <bilevel/operators/measurement.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace bilevel {

enum class TaskKind { denoise = 0, inpaint = 1, deblur = 2 };

/// \brief Parses "denoise", "inpaint" or "deblur".
inline TaskKind parse_task(const std::string& s) {
  if (s == "denoise") return TaskKind::denoise;
  if (s == "inpaint") return TaskKind::inpaint;
  if (s == "deblur") return TaskKind::deblur;
  throw Error("unknown task '" + s + "' (expected denoise, inpaint or deblur)");
}
inline std::string task_name(TaskKind t) {
  return t == TaskKind::denoise ? "denoise" : (t == TaskKind::inpaint ? "inpaint" : "deblur");
}

/// \brief A task with the papers' defaults (DESIGN.md section 2).
struct TaskSpec {
  TaskKind kind = TaskKind::denoise;
  double sigma = 25.0 / 255;  ///< noise standard deviation on [0, 1] data
  double keep = 0.3;          ///< inpainting: probability that a pixel is measured
  double xi = 0;              ///< (xi/2)|x|^2 in the lower level (inpainting default 1e-6)
  int blur_size = 7;
  double blur_std = 2.0;
  std::uint64_t seed = 0;  ///< noise and mask seed

  static TaskSpec defaults(TaskKind k) {
    TaskSpec t;
    t.kind = k;
    if (k == TaskKind::inpaint) t.sigma = 0.02, t.xi = 1e-6;
    if (k == TaskKind::deblur) t.sigma = 5.0 / 255, t.xi = 1e-6;
    return t;
  }
};

/// Every setting of a task in one line, exact to the last bit (checkpoints compare it).
inline std::string task_settings(const TaskSpec& t) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s sigma=%.17g keep=%.17g xi=%.17g blur=%d/%.17g seed=%llu",
                task_name(t.kind).c_str(), t.sigma, t.keep, t.xi, t.blur_size, t.blur_std,
                static_cast<unsigned long long>(t.seed));
  return buf;
}

/// \brief Clean images, their measurements (and masks), for sample ids 0 .. n-1, plus
/// persistent batch buffers and the forward operator of the current batch.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class TaskData {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;

  /// Simulates the measurements of every clean image (ids 0 .. n-1, offset by `first_id` in
  /// the noise and mask streams, so train and test sets draw different noise).
  TaskData(const ExecSpace& space, const TaskSpec& task, const MutImages& clean,
           std::uint64_t first_id = 0)
      : m_task(task),
        m_clean(clean),
        m_measured(make_images<Scalar, memory_space>("bilevel::task::measured", shape_of(clean))) {
    const Shape s = shape_of(clean);
    require(s.n > 0, "bilevel::TaskData: no images");
    auto op = make_operator(space, s, first_id, m_mask);
    simulate_measurement(space, *op, clean, task.sigma, task.seed, m_measured, first_id);
  }

  const TaskSpec& task() const { return m_task; }
  int size() const { return int(m_clean.extent(0)); }
  Shape image_shape() const { return shape_of(m_clean); }
  const MutImages& clean() const { return m_clean; }
  const MutImages& measured() const { return m_measured; }
  /// The operator of the whole set (for full-batch methods and test evaluation).
  std::unique_ptr<ForwardOperator<Scalar, ExecSpace>> full_operator(const ExecSpace& space) const {
    return operator_for(space, m_mask);
  }

  /// Persistent buffers for batches of `batch` samples (allocated once).
  struct Batch {
    MutImages clean, measured, mask;
    std::unique_ptr<ForwardOperator<Scalar, ExecSpace>> op;
    std::vector<int> ids;
  };
  Batch make_batch(const ExecSpace& space, int batch) const {
    const Shape s = shape_of(m_clean);
    const Shape bs{batch, s.c, s.h, s.w};
    Batch b;
    b.clean = make_images<Scalar, memory_space>("bilevel::batch::clean", bs);
    b.measured = make_images<Scalar, memory_space>("bilevel::batch::measured", bs);
    if (m_mask.data() != nullptr)
      b.mask = make_images<Scalar, memory_space>("bilevel::batch::mask", {batch, 1, s.h, s.w});
    b.op = operator_for(space, b.mask);
    return b;
  }
  /// Copies samples `ids` into the batch buffers (the batch operator follows: it holds views).
  void gather(const ExecSpace& space, const std::vector<int>& ids, Batch& b) const {
    require(int(ids.size()) == int(b.clean.extent(0)), "bilevel::TaskData::gather: ", ids.size(),
            " ids for a batch of ", b.clean.extent(0));
    for (std::size_t k = 0; k < ids.size(); ++k) {
      require(ids[k] >= 0 && ids[k] < size(), "bilevel::TaskData::gather: sample id ", ids[k],
              " outside 0..", size() - 1);
      copy_sample(space, m_clean, ids[k], b.clean, int(k));
      copy_sample(space, m_measured, ids[k], b.measured, int(k));
      if (b.mask.data() != nullptr) copy_sample(space, m_mask, ids[k], b.mask, int(k));
    }
    b.ids = ids;
  }

 private:
  static void copy_sample(const ExecSpace& space, const MutImages& from, int i, const MutImages& to,
                          int k) {
    Kokkos::deep_copy(
        space, Kokkos::subview(to, std::make_pair(k, k + 1), Kokkos::ALL, Kokkos::ALL, Kokkos::ALL),
        Kokkos::subview(from, std::make_pair(i, i + 1), Kokkos::ALL, Kokkos::ALL, Kokkos::ALL));
  }
  std::unique_ptr<ForwardOperator<Scalar, ExecSpace>> make_operator(const ExecSpace& space,
                                                                    const Shape& s,
                                                                    std::uint64_t first_id,
                                                                    MutImages& mask) const {
    if (m_task.kind == TaskKind::inpaint)
      mask =
          MaskOperator<Scalar, ExecSpace>::bernoulli(space, s, m_task.keep, m_task.seed, first_id)
              .mask();
    return operator_for(space, mask);
  }
  std::unique_ptr<ForwardOperator<Scalar, ExecSpace>> operator_for(const ExecSpace& space,
                                                                   const MutImages& mask) const {
    switch (m_task.kind) {
      case TaskKind::inpaint:
        return std::make_unique<MaskOperator<Scalar, ExecSpace>>(mask);
      case TaskKind::deblur:
        return std::make_unique<BlurOperator<Scalar, ExecSpace>>(space, m_task.blur_size,
                                                                 m_task.blur_std);
      default:
        return std::make_unique<IdentityOperator<Scalar, ExecSpace>>();
    }
  }

  TaskSpec m_task;
  MutImages m_clean, m_measured, m_mask;
};

}  // namespace bilevel
