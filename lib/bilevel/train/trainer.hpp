#pragma once
/// \file
/// The bilevel training loop (DESIGN.md section 6): a regularizer, a task's training data (and
/// optional test data), an upper-level method (optim/methods.hpp: ISGD, IAdam, MAID, HOAG) and
/// a stopping rule. The Trainer owns the data, the mini-batch sampling, the per-sample warm
/// starts, the cost accounting (lower-level + CG iterations summed over samples), the stopping
/// rules, test evaluation and checkpoints; the method decides how theta moves. Every step
/// reports k, the cost so far, the batch loss, eps_k, delta_k, alpha_k, |z_k|, the error bound
/// when estimated, and periodically the test PSNR (to accuracy test_eps; its cost is reported
/// separately and never charged to the budget).
///
/// Model selection: with validation data (set_validation: crops the batches never draw) the
/// Trainer measures their mean PSNR every validation_interval steps and keeps the parameters
/// that scored best (best_model()), so a fixed-step oscillation cannot decide which model a
/// run reports; the best model travels in checkpoints and load_model returns it.
///
/// Data-parallel over a Communicator (DESIGN.md section 9): every rank holds the data, theta,
/// the method and the sampler (identical on every rank, checked every few steps), solves its
/// share of each batch and of the test set, and receives the whole batch's hypergradient; the
/// warm starts are replicated (each step's solutions are gathered to every rank), so any rank
/// can solve any sample and a checkpoint resumes on any number of ranks. With an MPI
/// communicator theta does not depend on the number of ranks, bit for bit (host backends).

#include <array>
#include <bilevel/core/metrics.hpp>
#include <bilevel/optim/methods.hpp>
#include <bilevel/parallel/distributed_views.hpp>
#include <bilevel/parallel/load_balancer.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <bilevel/solvers/warm_start.hpp>
#include <bilevel/train/batch_sampler.hpp>
#include <bilevel/train/evaluator.hpp>
#include <bilevel/train/task.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bilevel {

/// \brief Everything a training run is configured with (defaults: the main paper's settings).
struct TrainOptions {
  std::string method = "isgd";   ///< a registered upper-level method (methods())
  MethodOptions method_options;  ///< its own options by name, e.g. {{"rho", 0.3}} for MAID
  ScheduleOptions schedule;      ///< alpha_k, eps_k, delta_k
  int batch_size = 8;            ///< mini-batch size of the stochastic methods
  std::uint64_t seed = 0;        ///< mini-batch sampling
  // stopping rules (0: off); the run stops at the first step that reaches one
  long cost_budget = 0;
  long max_steps = 0;
  double max_seconds = 0;
  // evaluation
  int test_interval = 0;  ///< steps between test evaluations (0: never)
  double test_eps = 1e-4;
  int test_batch = 4;
  /// Steps between validation PSNRs (0: never); needs Trainer::set_validation. The last step
  /// of a run that stops by its cost, step or stall rule is validated too. Validation images
  /// are solved like the test images (test_eps, test_batch, warm-started).
  int validation_interval = 0;
  bool report_bound = true;     ///< the error bound in every record (MAID: always)
  int constants_interval = 10;  ///< steps between re-estimates of |J|, L_H, L_J
  /// Data-parallel runs: how the batch is split over the ranks (LoadBalancer): consecutive
  /// positions, or shares of about the same predicted cost (the samples' last lower-level + CG
  /// iterations), always or only while that has saved iterations lately. The result is the
  /// same either way; only the waiting changes.
  BalanceMode balance = BalanceMode::automatic;
  int consistency_interval = 10;  ///< data-parallel runs: steps between checks that theta agrees
  HypergradientOptions hypergradient;
  /// Extra text attributes written into every checkpoint (e.g. the model description that
  /// bilevel::load_model reads back).
  std::vector<std::pair<std::string, std::string>> checkpoint_attributes;
};

/// \brief Runs bilevel training on one regularizer.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Trainer : private UpperLevelProblem<Scalar, ExecSpace> {
  using Problem = UpperLevelProblem<Scalar, ExecSpace>;

 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Data = TaskData<Scalar, ExecSpace>;
  using Method = UpperLevelMethod<Scalar, ExecSpace>;
  using Params = typename Problem::Params;
  using ConstParams = typename Problem::ConstParams;
  using Hypergradient = typename Problem::Hypergradient;
  using LossEstimate = typename Problem::LossEstimate;

  /// Trains with the registered method opt.method; `comm`: the ranks the run spans (each
  /// passes the same data and options).
  Trainer(const ExecSpace& space, Regularizer<Scalar, ExecSpace>& reg, const Data& train,
          const Data* test, const TrainOptions& opt, const Communicator& comm = {})
      : Trainer(space, reg, train, test, opt,
                make_method<Scalar, ExecSpace>(opt.method, opt.schedule, opt.method_options),
                comm) {}

  /// Trains with a method object of the caller's (opt.method and opt.method_options unused).
  Trainer(const ExecSpace& space, Regularizer<Scalar, ExecSpace>& reg, const Data& train,
          const Data* test, const TrainOptions& opt, std::unique_ptr<Method> method,
          const Communicator& comm = {})
      : m_space(space),
        m_comm(comm),
        m_reg(reg),
        m_train(train),
        m_test(test),
        m_opt(opt),
        m_method(std::move(method)),
        m_total(m_method->full_batch() ? train.size() : opt.batch_size),
        m_partition(checked_partition(m_total, comm)),
        m_batch(train.make_batch(space, m_partition.count(comm.rank()))),
        m_sampler(train.size(), m_total, opt.seed),
        m_x_cache(space, train.image_shape()),
        m_q_cache(space, train.image_shape()),
        m_hyper(opt.hypergradient),
        m_trial_solver(opt.hypergradient.lower),
        m_start(std::chrono::steady_clock::now()) {
    require(reg.channels() == train.image_shape().c,
            "bilevel::Trainer: the regularizer is built for ", reg.channels(),
            " channels, the training images have ", train.image_shape().c);
    const Shape bs = shape_of(m_batch.clean);
    m_x = make_images<Scalar, memory_space>("bilevel::trainer::x", bs);
    m_q = make_images<Scalar, memory_space>("bilevel::trainer::q", bs);
    m_zero = make_images<Scalar, memory_space>("bilevel::trainer::zero", bs);
    Kokkos::deep_copy(space, m_zero, Scalar(0));
    m_sample_losses = PerSample<double, memory_space>("bilevel::trainer::losses", bs.n);
    m_balancer = LoadBalancer(train.size(), comm.size(), opt.balance);
    if (comm.distributed()) {
      m_x_all =
          make_images<Scalar, memory_space>("bilevel::trainer::x_all", {m_total, bs.c, bs.h, bs.w});
      m_hyper.set_distribution(comm, m_partition);
    }
    m_problem = std::make_unique<LowerLevelProblem<Scalar, ExecSpace>>(
        *m_batch.op, reg, m_batch.measured, train.task().xi);
    if (m_method->full_batch()) {
      std::vector<int> all(static_cast<std::size_t>(train.size()));
      for (int i = 0; i < train.size(); ++i) all[std::size_t(i)] = i;
      take_batch(all, m_partition);
    }
    if (test)
      m_evaluator.emplace(space, reg, *test, opt.hypergradient.lower, opt.test_batch, opt.test_eps,
                          comm);
    m_method->attach(*this);
  }

  /// True once a stopping rule is reached (or the method can make no further progress).
  bool done() const {
    return done_by_count() || (m_opt.max_seconds > 0 && elapsed() >= m_opt.max_seconds);
  }

  /// One upper-level iteration.
  StepRecord step() {
    const ProfilingRegion region("bilevel::trainer::step");
    m_idle = m_idle_max = 0;
    StepRecord r = m_method->step(*this, m_k);
    m_cost += r.step_cost;
    r.cost = m_cost;
    r.k = m_k++;
    r.idle_seconds = m_idle, r.idle_seconds_max = m_idle_max;
    if (m_comm.distributed() && m_opt.consistency_interval > 0 &&
        m_k % m_opt.consistency_interval == 0)
      check_consistency();
    if (m_test && m_opt.test_interval > 0 && m_k % m_opt.test_interval == 0)
      r.test_psnr = test_psnr(&r.test_cost);
    if (m_validator && m_opt.validation_interval > 0 &&
        (m_k % m_opt.validation_interval == 0 || done_by_count()))
      validate(r);
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
    require(m_evaluator.has_value(), "bilevel::Trainer: no test data");
    return m_evaluator->psnrs(cost);
  }

  /// \brief The parameters that scored the best validation PSNR so far.
  struct BestModel {
    long step = -1;  ///< the step after which they were measured (-1: none yet)
    double psnr = -std::numeric_limits<double>::infinity();
    std::vector<Scalar> theta;
    std::vector<double> state;  ///< the regularizer's internal state with them
  };

  /// Holds out `validation` for model selection (call before load_checkpoint; the data must
  /// outlive the Trainer). Its images are never in a batch: every validation_interval steps
  /// their mean PSNR decides whether the current parameters become best_model().
  void set_validation(const Data& validation) {
    require(validation.image_shape().c == m_reg.channels(), "bilevel::Trainer: validation images ",
            "have ", validation.image_shape().c, " channels, the regularizer ", m_reg.channels());
    m_validator.emplace(m_space, m_reg, validation, m_opt.hypergradient.lower, m_opt.test_batch,
                        m_opt.test_eps, m_comm);
  }
  bool has_validation() const { return m_validator.has_value(); }
  /// The best validated parameters (step -1 before the first validation).
  const BestModel& best_model() const { return m_best; }
  /// Puts the best validated parameters into the regularizer (nothing without one): what a run
  /// reports and applies. Training continues from wherever the regularizer then is.
  void use_best_model() {
    if (m_best.step < 0) return;
    m_reg.set_internal_state(m_space, m_best.state);
    m_reg.set_params(m_space, m_best.theta);
  }

  /// The test evaluator (test PSNRs, reconstructions, which solves hit the iteration cap);
  /// throws without test data.
  const Evaluator<Scalar, ExecSpace>& test_evaluator() const {
    require(m_evaluator.has_value(), "bilevel::Trainer: no test data");
    return *m_evaluator;
  }

  /// The test reconstructions of the last test_psnr / test_psnrs call (empty before one).
  const MutImages& test_reconstructions() const {
    static const MutImages none;
    return m_evaluator ? m_evaluator->reconstructions() : none;
  }

  /// Writes everything a resumed run needs (theta and its blocks, the regularizer's internal
  /// state, the method's named state, step, cost, sampler state, warm starts) to one HDF5
  /// file, atomically (temporary file + rename). Data-parallel runs: rank 0 writes (it holds
  /// every warm start), the others wait until the file is complete.
  void save_checkpoint(const std::string& path) const;
  /// Restores a checkpoint written by save_checkpoint (or by the format-1 writer of earlier
  /// versions) for the same regularizer, method, scalar type and training set; throws naming
  /// the mismatch otherwise. A resumed run then produces the same parameters as an
  /// uninterrupted one, bit for bit. Every rank reads the file; it may have been written by a
  /// run on any number of ranks (checkpoint_ranks() tells how many).
  void load_checkpoint(const std::string& path);

  /// Lower level, CG and mixed-product seconds of the last hypergradient.
  const std::array<double, 3>& last_hypergradient_seconds() const { return m_last_seconds; }

  /// The number of ranks of the run that wrote the last checkpoint loaded (1 for a fresh run
  /// and for checkpoints of versions before data-parallel training).
  int checkpoint_ranks() const { return m_checkpoint_ranks; }
  /// Data-parallel runs: what the batch splits cost the slowest rank, and what consecutive
  /// splits would have (since the start of this process, not of the run: not checkpointed).
  const LoadBalanceStats& load_balance() const { return m_balancer.stats(); }
  long iteration() const { return m_k; }
  long cost() const { return m_cost; }
  /// The accuracy the next step uses.
  double current_eps() const {
    const double e = m_method->current_eps();
    return std::isnan(e) ? Method::scheduled_eps(m_opt.schedule, *this, m_k) : e;
  }
  /// The method could make no further progress (MAID: no certified decrease at the finest
  /// accuracy, a stationary point).
  bool stalled() const { return m_method->stalled(); }
  const Method& method() const { return *m_method; }
  const TrainOptions& options() const { return m_opt; }
  const Communicator& communicator() const { return m_comm; }
  /// Throws unless every rank holds the same theta, method state, sampler state and cost
  /// (data-parallel runs check this every consistency_interval steps; a mismatch means the
  /// ranks were given different inputs). One 64-bit hash per rank is compared.
  void check_consistency() const {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the bits of the replicated state
    const auto mix = [&](const void* p, std::size_t n) {
      const auto* b = static_cast<const unsigned char*>(p);
      for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    const auto theta = m_reg.params_host();
    mix(theta.data(), theta.size() * sizeof(Scalar));
    for (const auto& [name, view] : m_method->arrays()) {
      const auto v = impl::to_vector(view);
      mix(v.data(), v.size() * sizeof(Scalar));
    }
    for (const auto& [name, value] : m_method->state().reals) mix(&value, sizeof value);
    const std::int64_t counters[] = {m_cost, m_sampler.epoch(), m_sampler.position()};
    mix(counters, sizeof counters);
    require(m_comm.min(h) == m_comm.max(h), "bilevel::Trainer: the ", m_comm.size(),
            " ranks hold different parameters or optimizer state after step ", m_k - 1,
            " (every rank must be given the same data, options and checkpoint)");
  }

 private:
  void write_checkpoint(const std::string& path) const;
  /// The stopping rules that every rank evaluates alike (all but the wall time).
  bool done_by_count() const {
    return m_method->stalled() || (m_opt.cost_budget > 0 && m_cost >= m_opt.cost_budget) ||
           (m_opt.max_steps > 0 && m_k >= m_opt.max_steps);
  }
  /// The validation PSNR of the current parameters into r; they become the best if they beat it.
  void validate(StepRecord& r) {
    r.validation_psnr = mean(m_validator->psnrs(&r.validation_cost));
    if (!(r.validation_psnr > m_best.psnr)) return;  // NaN never wins
    m_best.step = r.k, m_best.psnr = r.validation_psnr;
    m_best.theta = m_reg.params_host();
    m_best.state = m_reg.internal_state();
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }

  // The UpperLevelProblem the method steps on.
  const ExecSpace& space() const override { return m_space; }
  std::int64_t num_params() const override { return m_reg.num_params(); }
  int batch_size() const override { return m_total; }
  /// 1e3 machine epsilons of Scalar.
  double accuracy_floor() const override {
    return 1e3 * double(std::numeric_limits<Scalar>::epsilon());
  }
  bool bound_requested() const override { return m_opt.report_bound; }
  void next_batch() override {
    const auto ids = m_sampler.next();
    take_batch(ids, m_comm.distributed() ? m_balancer.split(ids) : m_partition);
  }
  /// The batch `ids` (every rank's) split by `p`: this rank gathers its share.
  void take_batch(const std::vector<int>& ids, const SamplePartition& p) {
    m_partition = p;
    m_ids = ids;
    std::vector<int> mine;
    for (int pos : p.positions(m_comm.rank())) mine.push_back(ids[std::size_t(pos)]);
    m_train.gather(m_space, mine, m_batch);
    if (m_comm.distributed()) m_hyper.set_distribution(m_comm, p);
  }
  static SamplePartition checked_partition(int total, const Communicator& comm) {
    require(total >= comm.size(), "bilevel::Trainer: a batch of ", total, " samples over ",
            comm.size(), " ranks leaves some without work (use at most ", total, " ranks)");
    return SamplePartition::contiguous(total, comm.size());
  }
  /// Stores this rank's solutions x (its share of the batch) as the warm starts of their
  /// samples, on every rank.
  void keep_warm_starts(WarmStartCache<Scalar, ExecSpace>& cache, const MutImages& x) {
    if (!m_comm.distributed()) return cache.scatter(m_space, m_batch.ids, x);
    gather_samples(m_comm, m_partition, m_space, x, m_x_all);
    cache.scatter(m_space, m_ids, m_x_all);
  }
  ConstParams params() const override { return m_reg.params(); }
  void set_params(const ConstParams& theta) override { m_reg.set_params(m_space, theta); }

  Hypergradient hypergradient(double eps, double delta, bool bound) override {
    // A full batch (MAID, HOAG) is split anew at every hypergradient, and gathered again only
    // when the split changed; a mini-batch is split by next_batch.
    if (m_comm.distributed() && m_method->full_batch()) {
      const auto p = m_balancer.split(m_ids);
      if (p.rank_order() != m_partition.rank_order()) take_batch(m_ids, p);
    }
    m_x_cache.gather(m_space, m_batch.ids, m_batch.measured, m_x);
    m_q_cache.gather(m_space, m_batch.ids, m_zero, m_q);
    const bool refresh = m_opt.constants_interval <= 1 || m_k % m_opt.constants_interval == 0;
    m_hyper.set_bound_options(bound, refresh);
    auto r = m_hyper.compute(m_space, *m_problem, m_batch.clean, m_x, m_q, eps, delta);
    m_last_seconds = {r.seconds_lower, r.seconds_linear, r.seconds_mixed};
    m_idle += r.seconds_idle, m_idle_max += r.seconds_idle_max;
    m_last_lower = r.lower;
    if (m_comm.distributed()) {
      std::vector<int> costs(m_ids.size());
      for (std::size_t k = 0; k < costs.size(); ++k)
        costs[k] =
            r.lower.iterations[k] + (k < r.linear.iterations.size() ? r.linear.iterations[k] : 0);
      m_balancer.record(costs);
    }
    keep_warm_starts(m_x_cache, m_x);
    keep_warm_starts(m_q_cache, m_q);
    return r;
  }
  LossEstimate loss_of_last_solution() override { return estimate(m_last_lower, m_x); }
  LossEstimate trial_loss(double eps) override {
    if (m_trial_x.data() == nullptr)
      m_trial_x = make_images<Scalar, memory_space>("bilevel::trainer::trial", shape_of(m_x));
    Kokkos::deep_copy(m_space, m_trial_x, m_x);
    const auto r = gather_samples(m_comm, m_partition,
                                  m_trial_solver.solve(m_space, *m_problem, m_trial_x, eps));
    LossEstimate e = estimate(r, m_trial_x);
    e.cost = r.total_iterations;
    return e;
  }
  void accept_trial() override {
    Kokkos::deep_copy(m_space, m_x, m_trial_x);
    keep_warm_starts(m_x_cache, m_x);
  }
  /// f, the certified distance sqrt(sum (|grad h_i| / mu)^2) and |grad f| = (2/N) sqrt(N f)
  /// of the whole batch (r: the whole batch's result; x: this rank's share).
  LossEstimate estimate(const NmapgResult& r, const MutImages& x) {
    squared_distance(m_space, x, m_batch.clean, m_sample_losses);
    const int n = m_total;
    double sq = 0, d2 = 0;
    for (double v : gather_samples(m_comm, m_partition, impl::to_vector(m_sample_losses))) sq += v;
    for (double g : r.gradient_norms) d2 += (g / m_problem->mu()) * (g / m_problem->mu());
    LossEstimate e;
    e.loss = sq / n, e.distance = std::sqrt(d2), e.grad_norm = 2.0 / n * std::sqrt(sq);
    return e;
  }

  ExecSpace m_space;
  Communicator m_comm;
  Regularizer<Scalar, ExecSpace>& m_reg;
  const Data& m_train;
  const Data* m_test;
  TrainOptions m_opt;
  std::unique_ptr<Method> m_method;
  int m_total;                   // samples per batch, over all ranks
  SamplePartition m_partition;   // this batch's split over the ranks
  std::vector<int> m_ids;        // this batch's sample ids, every rank's
  typename Data::Batch m_batch;  // this rank's share
  BatchSampler m_sampler;
  WarmStartCache<Scalar, ExecSpace> m_x_cache, m_q_cache;
  HypergradientSolver<Scalar, ExecSpace> m_hyper;
  Nmapg<Scalar, ExecSpace> m_trial_solver;
  std::unique_ptr<LowerLevelProblem<Scalar, ExecSpace>> m_problem;
  std::optional<Evaluator<Scalar, ExecSpace>> m_evaluator, m_validator;
  BestModel m_best;
  MutImages m_x, m_q, m_zero, m_trial_x;
  MutImages m_x_all;        // a whole batch, for gathering warm starts
  LoadBalancer m_balancer;  // data-parallel runs: the batch's split over the ranks
  double m_idle = 0, m_idle_max = 0;
  int m_checkpoint_ranks = 1;
  PerSample<double, memory_space> m_sample_losses;
  NmapgResult m_last_lower;
  std::array<double, 3> m_last_seconds{0, 0, 0};
  long m_k = 0, m_cost = 0;
  std::chrono::steady_clock::time_point m_start;
};

}  // namespace bilevel

#include <bilevel/train/impl/trainer_checkpoint.hpp>
