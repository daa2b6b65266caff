#pragma once
/// \file
/// The bilevel training loop (DESIGN.md section 6): a regularizer, a task's training data (and
/// optional test data), an upper-level algorithm and a stopping rule. Every step reports k, the
/// cost so far (lower-level + CG iterations summed over samples), the mini-batch loss, eps_k,
/// delta_k, alpha_k, |z_k|, the hypergradient error bound when estimated, and periodically the
/// test PSNR (test reconstructions to accuracy test_eps; their cost is reported separately and
/// never charged to the budget).
///
/// Algorithms: ISGD (main paper Algorithm 2.1) and IAdam on seeded mini-batches; MAID (talk:
/// inexact backtracking with the inexact sufficient-decrease test, tightening eps and delta after
/// a failed search and loosening them after a success) and HOAG (Pedregosa 2016: eps_k on a fixed
/// schedule, step halved when the loss increases, grown by 5% otherwise) on the full batch.

#include <array>
#include <bilevel/core/impl/fixed_order.hpp>
#include <bilevel/core/metrics.hpp>
#include <bilevel/optim/parameter_updates.hpp>
#include <bilevel/optim/schedules.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <bilevel/solvers/warm_start.hpp>
#include <bilevel/train/batch_sampler.hpp>
#include <bilevel/train/task.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bilevel {

enum class Algorithm { isgd = 0, iadam = 1, maid = 2, hoag = 3 };

inline Algorithm parse_algorithm(const std::string& s) {
  if (s == "isgd") return Algorithm::isgd;
  if (s == "iadam") return Algorithm::iadam;
  if (s == "maid") return Algorithm::maid;
  if (s == "hoag") return Algorithm::hoag;
  throw Error("unknown algorithm '" + s + "' (expected isgd, iadam, maid or hoag)");
}
inline std::string algorithm_name(Algorithm a) {
  const char* names[] = {"isgd", "iadam", "maid", "hoag"};
  return names[int(a)];
}

/// \brief Everything a training run is configured with (defaults: the main paper's settings).
struct TrainOptions {
  Algorithm algorithm = Algorithm::isgd;
  int batch_size = 8;      ///< ISGD / IAdam mini-batch size
  std::uint64_t seed = 0;  ///< mini-batch sampling
  StepSchedule step{1e-2, 0.0};
  AccuracySchedule accuracy{1e-2, 0.5, AccuracyDecay::polynomial};
  double delta_factor = 1.0;  ///< delta_k = delta_factor eps_k
  AdamOptions adam;
  // MAID (defaults as in the talk's experiments)
  double maid_rho = 0.5, maid_c = 1e-4, maid_tighten = 0.5, maid_loosen = 1.25, maid_grow = 1.25;
  int maid_j0 = 3, maid_max_rounds = 30;
  // stopping rules (0: off); the run stops at the first step that reaches one
  long cost_budget = 0;
  long max_steps = 0;
  double max_seconds = 0;
  // evaluation
  int test_interval = 0;  ///< steps between test evaluations (0: never)
  double test_eps = 1e-4;
  int test_batch = 4;
  bool report_bound = true;     ///< ISGD/IAdam/HOAG: error bound in every record (MAID: always)
  int constants_interval = 10;  ///< steps between re-estimates of |J|, L_H, L_J
  HypergradientOptions hypergradient;
  /// Extra text attributes written into every checkpoint (e.g. the model description that
  /// bilevel::load_model reads back).
  std::vector<std::pair<std::string, std::string>> checkpoint_attributes;
};

/// \brief What one upper-level step did.
struct StepRecord {
  long k = 0;
  long cost = 0, step_cost = 0;
  double loss = 0, eps = 0, delta = 0, alpha = 0, z_norm = 0, bound = 0;
  double test_psnr = std::numeric_limits<double>::quiet_NaN();
  long test_cost = 0;
  double seconds = 0;
};

/// \brief Runs bilevel training on one regularizer.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Trainer {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Data = TaskData<Scalar, ExecSpace>;
  using Params = Kokkos::View<Scalar*, memory_space>;

  Trainer(const ExecSpace& space, Regularizer<Scalar, ExecSpace>& reg, const Data& train,
          const Data* test, const TrainOptions& opt)
      : m_space(space),
        m_reg(reg),
        m_train(train),
        m_test(test),
        m_opt(opt),
        m_full(opt.algorithm == Algorithm::maid || opt.algorithm == Algorithm::hoag),
        m_batch(train.make_batch(space, m_full ? train.size() : opt.batch_size)),
        m_sampler(train.size(), m_full ? train.size() : opt.batch_size, opt.seed),
        m_x_cache(train.image_shape()),
        m_q_cache(train.image_shape()),
        m_hyper(opt.hypergradient),
        m_trial_solver(opt.hypergradient.lower),
        m_theta("bilevel::trainer::theta", reg.num_params()),
        m_adam(reg.num_params()),
        m_eps(opt.accuracy.eps0),
        m_alpha(opt.step.alpha0),
        m_start(std::chrono::steady_clock::now()) {
    require(reg.channels() == train.image_shape().c,
            "bilevel::Trainer: the regularizer is built for ", reg.channels(),
            " channels, the training images have ", train.image_shape().c);
    const Shape bs = shape_of(m_batch.clean);
    m_x = make_images<Scalar, memory_space>("bilevel::trainer::x", bs);
    m_q = make_images<Scalar, memory_space>("bilevel::trainer::q", bs);
    m_zero = make_images<Scalar, memory_space>("bilevel::trainer::zero", bs);
    Kokkos::deep_copy(space, m_zero, Scalar(0));
    m_problem = std::make_unique<LowerLevelProblem<Scalar, ExecSpace>>(
        *m_batch.op, reg, m_batch.measured, train.task().xi);
    if (m_full) {
      std::vector<int> all(static_cast<std::size_t>(train.size()));
      for (int i = 0; i < train.size(); ++i) all[std::size_t(i)] = i;
      m_train.gather(space, all, m_batch);
    }
  }

  /// True once a stopping rule is reached (or MAID can make no further progress).
  bool done() const {
    return m_stalled || (m_opt.cost_budget > 0 && m_cost >= m_opt.cost_budget) ||
           (m_opt.max_steps > 0 && m_k >= m_opt.max_steps) ||
           (m_opt.max_seconds > 0 && elapsed() >= m_opt.max_seconds);
  }

  /// One upper-level iteration.
  StepRecord step() {
    const ProfilingRegion region("bilevel::trainer::step");
    StepRecord r;
    switch (m_opt.algorithm) {
      case Algorithm::maid:
        r = maid_step();
        break;
      case Algorithm::hoag:
        r = hoag_step();
        break;
      default:
        r = stochastic_step();
        break;
    }
    m_cost += r.step_cost;
    r.cost = m_cost;
    r.k = m_k++;
    if (m_test && m_opt.test_interval > 0 && m_k % m_opt.test_interval == 0)
      r.test_psnr = test_psnr(&r.test_cost);
    r.seconds = elapsed();
    return r;
  }

  /// Steps until a stopping rule holds, calling `on_step` after each.
  std::vector<StepRecord> run(const std::function<void(const StepRecord&)>& on_step = {}) {
    std::vector<StepRecord> out;
    while (!done()) {
      out.push_back(step());
      if (on_step) on_step(out.back());
    }
    return out;
  }

  /// Mean PSNR of the test reconstructions (solved to test_eps, warm-started); `cost` receives
  /// their nmAPG iterations.
  double test_psnr(long* cost = nullptr) { return mean(test_psnrs(cost)); }

  /// PSNR of every test reconstruction, in test-set order (see test_psnr).
  std::vector<double> test_psnrs(long* cost = nullptr) {
    require(m_test != nullptr, "bilevel::Trainer: no test data");
    const ProfilingRegion region("bilevel::trainer::test_evaluation");
    const int n = m_test->size(), chunk = std::max(1, std::min(m_opt.test_batch, n));
    if (m_test_x.data() == nullptr) {
      m_test_x =
          make_images<Scalar, memory_space>("bilevel::trainer::test_x", m_test->image_shape());
      Kokkos::deep_copy(m_space, m_test_x, m_test->measured());
    }
    std::vector<double> out;
    long c = 0;
    Nmapg<Scalar, ExecSpace> solver(m_opt.hypergradient.lower);
    for (int first = 0; first < n; first += chunk) {
      const int count = std::min(chunk, n - first);
      auto b = m_test->make_batch(m_space, count);
      std::vector<int> ids(static_cast<std::size_t>(count));
      for (int i = 0; i < count; ++i) ids[std::size_t(i)] = first + i;
      m_test->gather(m_space, ids, b);
      const auto xs = Kokkos::subview(m_test_x, std::make_pair(first, first + count), Kokkos::ALL,
                                      Kokkos::ALL, Kokkos::ALL);
      MutImages x =
          make_images<Scalar, memory_space>("bilevel::trainer::test_chunk", shape_of(b.clean));
      Kokkos::deep_copy(m_space, x, xs);
      LowerLevelProblem<Scalar, ExecSpace> h(*b.op, m_reg, b.measured, m_test->task().xi);
      c += solver.solve(m_space, h, x, m_opt.test_eps).total_iterations;
      Kokkos::deep_copy(m_space, xs, x);
      for (double p : psnr_host(m_space, x, b.clean)) out.push_back(p);
    }
    if (cost) *cost = c;
    return out;
  }

  /// The test reconstructions of the last test_psnr / test_psnrs call (empty before one).
  const MutImages& test_reconstructions() const { return m_test_x; }

  /// Writes everything a resumed run needs (theta and its blocks, the regularizer's internal
  /// state, optimizer state, step, cost, sampler state, warm starts) to one HDF5 file,
  /// atomically (temporary file + rename).
  void save_checkpoint(const std::string& path) const;
  /// Restores a checkpoint written by save_checkpoint for the same regularizer, scalar type and
  /// training set; throws naming the mismatch otherwise. For a Serial build a resumed run then
  /// produces the same parameters as an uninterrupted one, bit for bit.
  void load_checkpoint(const std::string& path);

  /// Lower level, CG and mixed-product seconds of the last hypergradient.
  const std::array<double, 3>& last_hypergradient_seconds() const { return m_last_seconds; }

  long iteration() const { return m_k; }
  long cost() const { return m_cost; }
  double current_eps() const { return m_eps; }
  double current_alpha() const { return m_alpha; }
  /// MAID found no certified decrease even at the finest accuracy (a stationary point).
  bool stalled() const { return m_stalled; }
  const TrainOptions& options() const { return m_opt; }

 private:
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }
  /// Accuracies below this cannot be certified in Scalar arithmetic (1e3 machine epsilons).
  static double accuracy_floor() { return 1e3 * double(std::numeric_limits<Scalar>::epsilon()); }
  double eps_at(long k) const { return std::max(m_opt.accuracy(k), accuracy_floor()); }

  double z_norm(const Params& z) const {
    return std::sqrt(impl::flat_sum(
        "bilevel::trainer::z_norm", m_space, std::int64_t(z.extent(0)),
        KOKKOS_LAMBDA(std::int64_t k) { return double(z(k)) * double(z(k)); }));
  }
  bool bound_due() const { return m_opt.report_bound; }
  bool constants_due() const {
    return m_opt.constants_interval <= 1 || m_k % m_opt.constants_interval == 0;
  }

  /// Hypergradient on the current batch at accuracy (eps, delta), with warm starts per sample.
  typename HypergradientSolver<Scalar, ExecSpace>::Result hypergradient(double eps, double delta,
                                                                        bool bound) {
    m_x_cache.gather(m_space, m_batch.ids, m_batch.measured, m_x);
    m_q_cache.gather(m_space, m_batch.ids, m_zero, m_q);
    m_hyper.set_bound_options(bound, constants_due());
    auto r = m_hyper.compute(m_space, *m_problem, m_batch.clean, m_x, m_q, eps, delta);
    m_last_seconds = {r.seconds_lower, r.seconds_linear, r.seconds_mixed};
    m_x_cache.scatter(m_space, m_batch.ids, m_x);
    m_q_cache.scatter(m_space, m_batch.ids, m_q);
    return r;
  }

  StepRecord record(const typename HypergradientSolver<Scalar, ExecSpace>::Result& h, double eps,
                    double delta, double alpha) const {
    StepRecord r;
    r.step_cost = h.cost();
    r.loss = h.loss, r.eps = eps, r.delta = delta, r.alpha = alpha, r.bound = h.bound;
    r.z_norm = z_norm(h.z);
    return r;
  }

  /// theta <- update(theta, z) through the regularizer (constraints applied there).
  template <class Update>
  void update_params(const Update& update) {
    Kokkos::deep_copy(m_space, m_theta, m_reg.params());
    update(m_theta);
    m_reg.set_params(m_space, m_theta);
  }

  StepRecord stochastic_step() {
    m_train.gather(m_space, m_sampler.next(), m_batch);
    const double eps = eps_at(m_k), delta = m_opt.delta_factor * eps, alpha = m_opt.step(m_k);
    const auto h = hypergradient(eps, delta, bound_due());
    if (m_opt.algorithm == Algorithm::iadam)
      update_params(
          [&](const Params& th) { adam_update(m_space, th, h.z, m_adam, alpha, m_opt.adam); });
    else
      update_params([&](const Params& th) { sgd_update(m_space, th, h.z, alpha); });
    return record(h, eps, delta, alpha);
  }

  StepRecord hoag_step() {
    const double eps = eps_at(m_k), delta = m_opt.delta_factor * eps;
    const auto h = hypergradient(eps, delta, bound_due());
    if (m_k > 0) m_alpha *= h.loss > m_prev_loss ? 0.5 : 1.05;
    m_prev_loss = h.loss;
    update_params([&](const Params& th) { sgd_update(m_space, th, h.z, m_alpha); });
    return record(h, eps, delta, m_alpha);
  }

  /// Upper loss of the full batch at the regularizer's current theta, solved to eps from x0.
  /// Returns (loss, certified distance |x - x_hat|, |grad f(x)|) and adds the iterations to cost.
  void trial_loss(double eps, double& loss, double& dist, double& grad_f, long& cost) {
    if (m_trial_x.data() == nullptr)
      m_trial_x = make_images<Scalar, memory_space>("bilevel::trainer::trial", shape_of(m_x));
    Kokkos::deep_copy(m_space, m_trial_x, m_x);
    const auto r = m_trial_solver.solve(m_space, *m_problem, m_trial_x, eps);
    cost += r.total_iterations;
    summary(r, m_trial_x, loss, dist, grad_f);
  }
  void summary(const NmapgResult& r, const MutImages& x, double& loss, double& dist,
               double& grad_f) {
    PerSample<double, memory_space> l("bilevel::trainer::losses", x.extent(0));
    squared_distance(m_space, x, m_batch.clean, l);
    const int n = int(x.extent(0));
    double sq = 0, d2 = 0;
    for (double v : impl::to_vector(l)) sq += v;
    for (double g : r.gradient_norms) d2 += (g / m_problem->mu()) * (g / m_problem->mu());
    loss = sq / n, dist = std::sqrt(d2), grad_f = 2.0 / n * std::sqrt(sq);
  }

  StepRecord maid_step() {
    long cost = 0;
    const std::vector<Scalar> theta = m_reg.params_host();
    for (int round = 0; round < m_opt.maid_max_rounds; ++round) {
      const double delta = m_opt.delta_factor * m_eps;
      const auto h = hypergradient(m_eps, delta, true);
      cost += h.cost();
      double f0, d0, g0;
      summary(h.lower, m_x, f0, d0, g0);
      const double zn = z_norm(h.z);
      if (!(zn > h.bound)) {  // the error could exceed the gradient: not a descent direction
        if (m_eps <= accuracy_floor()) break;
        m_eps = std::max(m_eps * m_opt.maid_tighten, accuracy_floor());
        continue;
      }
      const int jmax = m_opt.maid_j0 + round;
      const double lip = 2.0 / m_x.extent(0);  // f = (1/N) sum |x_i - x*_i|^2
      for (int j = 0; j < jmax; ++j) {
        const double a = m_alpha * std::pow(m_opt.maid_rho, j);
        std::vector<Scalar> trial(theta);
        auto hz = impl::to_vector(h.z);
        for (std::size_t k = 0; k < trial.size(); ++k) trial[k] = Scalar(theta[k] - a * hz[k]);
        m_reg.set_params(m_space, trial);
        double f1, d1, g1;
        trial_loss(m_eps, f1, d1, g1, cost);
        if (f1 <= f0 - m_opt.maid_c * a * zn * zn - g1 * d1 - g0 * d0 - 0.5 * lip * d0 * d0) {
          StepRecord r = record(h, m_eps, delta, a);
          r.step_cost = cost;
          Kokkos::deep_copy(m_space, m_x, m_trial_x);  // the accepted point's solution
          m_x_cache.scatter(m_space, m_batch.ids, m_x);
          m_alpha = a * m_opt.maid_grow;
          m_eps *= m_opt.maid_loosen;
          return r;
        }
      }
      m_reg.set_params(m_space, theta);
      if (m_eps <= accuracy_floor()) break;
      m_eps = std::max(m_eps * m_opt.maid_tighten,
                       accuracy_floor());  // backtracking failed: more accuracy
    }
    // No certified decrease at the finest accuracy: the iterate is stationary to within what
    // the arithmetic can certify. The run stops here (done() becomes true).
    m_stalled = true;
    StepRecord r;
    r.step_cost = cost, r.eps = m_eps, r.delta = m_opt.delta_factor * m_eps;
    return r;
  }

  ExecSpace m_space;
  Regularizer<Scalar, ExecSpace>& m_reg;
  const Data& m_train;
  const Data* m_test;
  TrainOptions m_opt;
  bool m_full;
  typename Data::Batch m_batch;
  BatchSampler m_sampler;
  WarmStartCache<Scalar, ExecSpace> m_x_cache, m_q_cache;
  HypergradientSolver<Scalar, ExecSpace> m_hyper;
  Nmapg<Scalar, ExecSpace> m_trial_solver;
  std::unique_ptr<LowerLevelProblem<Scalar, ExecSpace>> m_problem;
  Params m_theta;
  AdamState<Scalar, memory_space> m_adam;
  MutImages m_x, m_q, m_zero, m_trial_x, m_test_x;
  double m_eps, m_alpha, m_prev_loss = 0;
  bool m_stalled = false;
  std::array<double, 3> m_last_seconds{0, 0, 0};
  long m_k = 0, m_cost = 0;
  std::chrono::steady_clock::time_point m_start;
};

}  // namespace bilevel

#include <bilevel/train/impl/trainer_checkpoint.hpp>
