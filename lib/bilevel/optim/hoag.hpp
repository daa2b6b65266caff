#pragma once
/// \file
/// HOAG (Pedregosa 2016) on the full batch: eps_k on a fixed schedule, the step halved when
/// the loss increased since the last step and grown by 5% otherwise. State: the step and the
/// previous loss.

#include <bilevel/optim/parameter_updates.hpp>
#include <bilevel/optim/upper_level_method.hpp>

namespace bilevel {

template <class Scalar, class ExecSpace = DefaultExecSpace>
class Hoag : public UpperLevelMethod<Scalar, ExecSpace> {
  using Base = UpperLevelMethod<Scalar, ExecSpace>;

 public:
  static std::vector<MethodOption> options() {
    return {{"shrink", 0.5, "step factor after a loss increase"},
            {"grow", 1.05, "step factor after a decrease"}};
  }
  explicit Hoag(const ScheduleOptions& schedule, const MethodOptions& o = {})
      : m_schedule(schedule),
        m_shrink(option_value(o, "shrink", 0.5)),
        m_grow(option_value(o, "grow", 1.05)),
        m_alpha(schedule.step.alpha0) {
    require(m_shrink > 0 && m_shrink <= 1 && m_grow >= 1,
            "hoag: shrink must be in (0, 1] and grow >= 1, got ", m_shrink, " and ", m_grow);
  }

  std::string name() const override { return "hoag"; }
  bool full_batch() const override { return true; }

  StepRecord step(typename Base::Problem& p, long k) override {
    const double eps = Base::scheduled_eps(m_schedule, p, k);
    const double delta = m_schedule.delta_factor * eps;
    const auto h = p.hypergradient(eps, delta, p.bound_requested());
    if (k > 0) m_alpha *= h.loss > m_previous_loss ? m_shrink : m_grow;
    m_previous_loss = h.loss;
    this->descend(p, [&](const auto& theta) { sgd_update(p.space(), theta, h.z, m_alpha); });
    return Base::record(p, h, eps, delta, m_alpha);
  }

  MethodState state() const override {
    return {{{"alpha", m_alpha}, {"previous_loss", m_previous_loss}}, {}};
  }
  void set_state(const MethodState& s) override {
    m_alpha = s.real("alpha"), m_previous_loss = s.real("previous_loss");
  }

 private:
  ScheduleOptions m_schedule;
  double m_shrink, m_grow;
  double m_alpha, m_previous_loss = 0;
};

}  // namespace bilevel
