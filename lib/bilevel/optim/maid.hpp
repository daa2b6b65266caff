#pragma once
/// \file
/// MAID (the talk; Salehi, Mukherjee, Roberts, Ehrhardt 2024) on the full batch: inexact
/// backtracking with the inexact sufficient-decrease test. A hypergradient whose certified
/// error bound reaches |z| is no descent direction: eps is tightened and it is recomputed.
/// Otherwise up to j0 + round trial steps alpha rho^j are tested with
///   f(theta - a z) <= f(theta) - c a |z|^2 - |grad f_1| d_1 - |grad f_0| d_0 - (L/2) d_0^2
/// (d = certified lower-level distances, L = 2/N the Lipschitz constant of f in x); an accepted
/// step grows alpha and loosens eps, a failed search tightens eps. With nothing certified at the
/// finest accuracy the method stalls (the run stops). State: eps, alpha, stalled.

#include <bilevel/optim/parameter_updates.hpp>
#include <bilevel/optim/upper_level_method.hpp>

namespace bilevel {

template <class Scalar, class ExecSpace = DefaultExecSpace>
class Maid : public UpperLevelMethod<Scalar, ExecSpace> {
  using Base = UpperLevelMethod<Scalar, ExecSpace>;

 public:
  /// Defaults as in the talk's experiments.
  static std::vector<MethodOption> options() {
    return {{"rho", 0.5, "backtracking factor"},
            {"c", 1e-4, "sufficient-decrease constant"},
            {"tighten", 0.5, "eps factor after a failed search"},
            {"loosen", 1.25, "eps factor after an accepted step"},
            {"grow", 1.25, "alpha factor after an accepted step"},
            {"j0", 3, "trial steps in the first search round"},
            {"max_rounds", 30, "search rounds per step"}};
  }
  explicit Maid(const ScheduleOptions& schedule, const MethodOptions& o = {})
      : m_delta_factor(schedule.delta_factor),
        m_rho(option_value(o, "rho", 0.5)),
        m_c(option_value(o, "c", 1e-4)),
        m_tighten(option_value(o, "tighten", 0.5)),
        m_loosen(option_value(o, "loosen", 1.25)),
        m_grow(option_value(o, "grow", 1.25)),
        m_j0(int(option_value(o, "j0", 3))),
        m_max_rounds(int(option_value(o, "max_rounds", 30))),
        m_eps(schedule.accuracy.eps0),
        m_alpha(schedule.step.alpha0) {
    require(m_rho > 0 && m_rho < 1, "maid: rho must be in (0, 1), got ", m_rho);
    require(m_c >= 0, "maid: c must be >= 0, got ", m_c);
    require(m_tighten > 0 && m_tighten < 1, "maid: tighten must be in (0, 1), got ", m_tighten);
    require(m_loosen >= 1 && m_grow > 0, "maid: loosen must be >= 1 and grow > 0, got ", m_loosen,
            " and ", m_grow);
    const double j0 = option_value(o, "j0", 3), rounds = option_value(o, "max_rounds", 30);
    require(j0 >= 1 && j0 <= 1000 && j0 == std::floor(j0) && rounds >= 1 && rounds <= 1000 &&
                rounds == std::floor(rounds),
            "maid: j0 and max_rounds must be whole numbers in 1..1000, got ", j0, " and ", rounds);
  }

  std::string name() const override { return "maid"; }
  bool full_batch() const override { return true; }
  bool stalled() const override { return m_stalled; }
  double current_eps() const override { return m_eps; }

  StepRecord step(typename Base::Problem& p, long) override {
    const double floor = p.accuracy_floor();
    auto& theta0 = this->scratch(p);
    Kokkos::deep_copy(p.space(), theta0, p.params());
    if (m_trial.extent(0) != theta0.extent(0))
      m_trial = typename Base::Params("bilevel::maid::trial_theta", theta0.extent(0));
    long cost = 0;
    for (int round = 0; round < m_max_rounds; ++round) {
      const double delta = m_delta_factor * m_eps;
      const auto h = p.hypergradient(m_eps, delta, true);
      cost += h.cost();
      const auto at0 = p.loss_of_last_solution();
      const double zn = impl::flat_norm("bilevel::optim::z_norm", p.space(), h.z);
      if (!(zn > h.bound)) {  // the error could exceed the gradient: not a descent direction
        if (m_eps <= floor) break;
        m_eps = std::max(m_eps * m_tighten, floor);
        continue;
      }
      const double d0 = at0.distance, g0 = at0.grad_norm;
      const double lip = 2.0 / p.batch_size();  // f = (1/N) sum |x_i - x*_i|^2
      for (int j = 0; j < m_j0 + round; ++j) {
        const double a = m_alpha * std::pow(m_rho, j);
        sgd_step_into(p.space(), m_trial, theta0, h.z, a);
        p.set_params(m_trial);
        const auto at1 = p.trial_loss(m_eps);
        cost += at1.cost;
        if (at1.loss <= at0.loss - m_c * a * zn * zn - at1.grad_norm * at1.distance - g0 * d0 -
                            0.5 * lip * d0 * d0) {
          StepRecord r = Base::record(p, h, m_eps, delta, a);
          r.step_cost = cost;
          p.accept_trial();  // the accepted point's solutions become the warm starts
          m_alpha = a * m_grow;
          m_eps *= m_loosen;
          return r;
        }
      }
      p.set_params(theta0);
      if (m_eps <= floor) break;
      m_eps = std::max(m_eps * m_tighten, floor);  // backtracking failed: more accuracy
    }
    // No certified decrease at the finest accuracy: the iterate is stationary to within what
    // the arithmetic can certify.
    m_stalled = true;
    StepRecord r;
    r.step_cost = cost, r.eps = m_eps, r.delta = m_delta_factor * m_eps;
    return r;
  }

  MethodState state() const override {
    return {{{"eps", m_eps}, {"alpha", m_alpha}}, {{"stalled", m_stalled ? 1 : 0}}};
  }
  void set_state(const MethodState& s) override {
    m_eps = s.real("eps"), m_alpha = s.real("alpha"), m_stalled = s.counter("stalled") != 0;
  }

 private:
  double m_delta_factor, m_rho, m_c, m_tighten, m_loosen, m_grow;
  int m_j0, m_max_rounds;
  double m_eps, m_alpha;
  bool m_stalled = false;
  typename Base::Params m_trial;
};

}  // namespace bilevel
