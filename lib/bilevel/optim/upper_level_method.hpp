#pragma once
/// \file
/// The contract between the training loop and an upper-level method (DESIGN.md section 6).
/// The Trainer owns the data, the sampling, the warm starts, the cost accounting and the
/// stopping rules, and offers them to a method as an UpperLevelProblem; a method (ISGD, IAdam,
/// MAID, HOAG, ...) owns its options and its state, takes one step at a time, and names every
/// quantity it must keep across a checkpoint. Host-side polymorphism only: every kernel a
/// method launches is a plain Kokkos functor.

#include <bilevel/core/error.hpp>
#include <bilevel/core/impl/fixed_order.hpp>
#include <bilevel/optim/schedules.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bilevel {

/// \brief What one upper-level step did.
struct StepRecord {
  long k = 0;
  long cost = 0, step_cost = 0;
  double loss = 0, eps = 0, delta = 0, alpha = 0, z_norm = 0, bound = 0;
  double test_psnr = std::numeric_limits<double>::quiet_NaN();
  long test_cost = 0;
  double validation_psnr = std::numeric_limits<double>::quiet_NaN();
  long validation_cost = 0;  ///< never charged to the budget, like test_cost
  double seconds = 0;
  /// Data-parallel runs: this rank's wait for the slowest rank in the step, and the longest
  /// wait of any rank (0 on one process).
  double idle_seconds = 0, idle_seconds_max = 0;
};

/// \brief The schedules every method is configured with: alpha_k, eps_k and delta_k = factor
/// eps_k (the main paper's notation; MAID and HOAG start from alpha0 and eps0).
struct ScheduleOptions {
  StepSchedule step{1e-2, 0.0};
  AccuracySchedule accuracy{1e-2, 0.5, AccuracyDecay::polynomial};
  double delta_factor = 1.0;
};

/// \brief A method's own tunable, by name (the CLI's --method-option NAME=VALUE).
struct MethodOption {
  std::string name;
  double value;
  std::string help;
};
/// Values of a method's options by name; what is missing takes the method's default.
using MethodOptions = std::map<std::string, double>;

/// \brief A method's state by name: what a checkpoint stores and a resumed run restores.
struct MethodState {
  std::map<std::string, double> reals;
  std::map<std::string, std::int64_t> counters;

  double real(const std::string& name) const {
    const auto it = reals.find(name);
    require(it != reals.end(), "method state has no real '", name, "'");
    return it->second;
  }
  std::int64_t counter(const std::string& name) const {
    const auto it = counters.find(name);
    require(it != counters.end(), "method state has no counter '", name, "'");
    return it->second;
  }
};

/// \brief What a method may ask of the training loop during a step.
template <class Scalar, class ExecSpace>
class UpperLevelProblem {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using Params = Kokkos::View<Scalar*, memory_space>;
  using ConstParams = Kokkos::View<const Scalar*, memory_space>;
  using Hypergradient = HypergradientResult<Scalar, memory_space>;

  /// The upper loss f = (1/N) sum |x_i - x*_i|^2 of a lower-level solution x, with what
  /// certifies it: distance >= |x - x_hat(theta)| (from |grad h_i| / mu) and grad_norm =
  /// |grad f(x)|; cost = the iterations spent (trial_loss only).
  struct LossEstimate {
    double loss = 0, distance = 0, grad_norm = 0;
    long cost = 0;
  };

  virtual ~UpperLevelProblem() = default;
  virtual const ExecSpace& space() const = 0;
  virtual std::int64_t num_params() const = 0;
  /// Samples in the current batch (every training sample for full-batch methods).
  virtual int batch_size() const = 0;
  /// Accuracies below this cannot be certified in Scalar arithmetic.
  virtual double accuracy_floor() const = 0;
  /// Whether every record should carry the hypergradient error bound.
  virtual bool bound_requested() const = 0;
  /// Draws the next mini-batch (stochastic methods); a full-batch problem keeps every sample.
  virtual void next_batch() = 0;
  /// The hypergradient at the current theta on the current batch, to accuracies (eps, delta),
  /// warm-started per sample; the lower-level solutions become the warm starts.
  virtual Hypergradient hypergradient(double eps, double delta, bool bound) = 0;
  /// The loss estimate of the last hypergradient's lower-level solutions.
  virtual LossEstimate loss_of_last_solution() = 0;
  /// The regularizer's theta (device).
  virtual ConstParams params() const = 0;
  /// Sets theta; the regularizer applies its constraints.
  virtual void set_params(const ConstParams& theta) = 0;
  /// Solves the lower level at the current theta to eps, starting from the last solutions,
  /// without touching the warm starts (see accept_trial).
  virtual LossEstimate trial_loss(double eps) = 0;
  /// Makes the last trial_loss solutions the warm starts (an accepted line-search step).
  virtual void accept_trial() = 0;
};

/// \brief One upper-level algorithm. Subclasses implement step() and name their state.
template <class Scalar, class ExecSpace>
class UpperLevelMethod {
 public:
  using Problem = UpperLevelProblem<Scalar, ExecSpace>;
  using Params = typename Problem::Params;
  using Hypergradient = typename Problem::Hypergradient;

  virtual ~UpperLevelMethod() = default;
  /// The registered name ("isgd", ...): checkpoints and the CLI use it.
  virtual std::string name() const = 0;
  /// Full-batch methods see every training sample at every step.
  virtual bool full_batch() const = 0;
  /// Called once by the training loop before the first step or checkpoint load: allocate
  /// state sized by the problem here.
  virtual void attach(const Problem&) {}
  /// One step (k counts from 0). Fills step_cost, loss, eps, delta, alpha, z_norm and bound.
  virtual StepRecord step(Problem& problem, long k) = 0;
  /// True when the method can make no further progress (the run then stops).
  virtual bool stalled() const { return false; }
  /// The accuracy the next step would use (for summaries); NaN when the schedule decides.
  virtual double current_eps() const { return std::numeric_limits<double>::quiet_NaN(); }

  /// Named scalar state (checkpoints).
  virtual MethodState state() const { return {}; }
  /// Restores what state() returned; throws naming a missing entry.
  virtual void set_state(const MethodState&) {}
  /// Named device arrays of the state (e.g. Adam's moments), restored in place.
  virtual std::vector<std::pair<std::string, Params>> arrays() const { return {}; }

  /// eps_k of the schedule, never below what the arithmetic can certify.
  static double scheduled_eps(const ScheduleOptions& o, const Problem& p, long k) {
    return std::max(o.accuracy(k), p.accuracy_floor());
  }

 protected:
  /// The record fields every method reports for a hypergradient.
  static StepRecord record(const Problem& p, const Hypergradient& h, double eps, double delta,
                           double alpha) {
    StepRecord r;
    r.step_cost = h.cost();
    r.loss = h.loss, r.eps = eps, r.delta = delta, r.alpha = alpha, r.bound = h.bound;
    r.z_norm = impl::flat_norm("bilevel::optim::z_norm", p.space(), h.z);
    return r;
  }
  /// theta <- update(copy of theta) through the problem (its constraints applied there).
  template <class Update>
  void descend(Problem& p, const Update& update) {
    auto& theta = scratch(p);
    Kokkos::deep_copy(p.space(), theta, p.params());
    update(theta);
    p.set_params(theta);
  }
  /// A scratch theta of the problem's length, allocated on first use.
  Params& scratch(const Problem& p) {
    if (m_scratch.extent(0) != std::size_t(p.num_params()))
      m_scratch = Params("bilevel::optim::theta", p.num_params());
    return m_scratch;
  }

 private:
  Params m_scratch;
};

/// The value of option `name` in `values`, or `fallback`.
inline double option_value(const MethodOptions& values, const std::string& name, double fallback) {
  const auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

}  // namespace bilevel
