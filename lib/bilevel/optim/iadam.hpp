#pragma once
/// \file
/// Inexact Adam (main paper section 4.3): ISGD's mini-batches and accuracies, with Adam's
/// bias-corrected moments (Kingma & Ba) in place of the plain step. State: the moments m, v and
/// the step count.

#include <bilevel/optim/parameter_updates.hpp>
#include <bilevel/optim/upper_level_method.hpp>

namespace bilevel {

template <class Scalar, class ExecSpace = DefaultExecSpace>
class Iadam : public UpperLevelMethod<Scalar, ExecSpace> {
  using Base = UpperLevelMethod<Scalar, ExecSpace>;

 public:
  static std::vector<MethodOption> options() {
    const AdamOptions d;
    return {{"beta1", d.beta1, "first-moment decay"},
            {"beta2", d.beta2, "second-moment decay"},
            {"epsilon", d.epsilon, "added to sqrt(v_hat)"}};
  }
  explicit Iadam(const ScheduleOptions& schedule, const MethodOptions& o = {})
      : m_schedule(schedule) {
    m_adam.beta1 = option_value(o, "beta1", m_adam.beta1);
    m_adam.beta2 = option_value(o, "beta2", m_adam.beta2);
    m_adam.epsilon = option_value(o, "epsilon", m_adam.epsilon);
    require(m_adam.beta1 >= 0 && m_adam.beta1 < 1 && m_adam.beta2 >= 0 && m_adam.beta2 < 1,
            "iadam: beta1 and beta2 must be in [0, 1), got ", m_adam.beta1, " and ", m_adam.beta2);
    require(m_adam.epsilon > 0, "iadam: epsilon must be > 0, got ", m_adam.epsilon);
  }

  std::string name() const override { return "iadam"; }
  bool full_batch() const override { return false; }
  void attach(const typename Base::Problem& p) override {
    m_state = AdamState<Scalar, typename ExecSpace::memory_space>(p.num_params());
  }

  StepRecord step(typename Base::Problem& p, long k) override {
    p.next_batch();
    const double eps = Base::scheduled_eps(m_schedule, p, k);
    const double delta = m_schedule.delta_factor * eps, alpha = m_schedule.step(k);
    const auto h = p.hypergradient(eps, delta, p.bound_requested());
    this->descend(
        p, [&](const auto& theta) { adam_update(p.space(), theta, h.z, m_state, alpha, m_adam); });
    return Base::record(p, h, eps, delta, alpha);
  }

  MethodState state() const override { return {{}, {{"steps", m_state.steps}}}; }
  void set_state(const MethodState& s) override { m_state.steps = s.counter("steps"); }
  std::vector<std::pair<std::string, typename Base::Params>> arrays() const override {
    return {{"m", m_state.m}, {"v", m_state.v}};
  }

 private:
  ScheduleOptions m_schedule;
  AdamOptions m_adam;
  AdamState<Scalar, typename ExecSpace::memory_space> m_state;
};

}  // namespace bilevel
