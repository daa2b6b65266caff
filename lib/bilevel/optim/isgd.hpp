#pragma once
/// \file
/// Inexact SGD (main paper Algorithm 2.1): on a fresh mini-batch, the hypergradient z_k to
/// accuracy eps_k (CG to delta_k), then theta <- theta - alpha_k z_k.

#include <bilevel/optim/parameter_updates.hpp>
#include <bilevel/optim/upper_level_method.hpp>

namespace bilevel {

template <class Scalar, class ExecSpace = DefaultExecSpace>
class Isgd : public UpperLevelMethod<Scalar, ExecSpace> {
  using Base = UpperLevelMethod<Scalar, ExecSpace>;

 public:
  static std::vector<MethodOption> options() { return {}; }
  explicit Isgd(const ScheduleOptions& schedule, const MethodOptions& = {})
      : m_schedule(schedule) {}

  std::string name() const override { return "isgd"; }
  bool full_batch() const override { return false; }

  StepRecord step(typename Base::Problem& p, long k) override {
    p.next_batch();
    const double eps = Base::scheduled_eps(m_schedule, p, k);
    const double delta = m_schedule.delta_factor * eps, alpha = m_schedule.step(k);
    const auto h = p.hypergradient(eps, delta, p.bound_requested());
    this->descend(p, [&](const auto& theta) { sgd_update(p.space(), theta, h.z, alpha); });
    return Base::record(p, h, eps, delta, alpha);
  }

 private:
  ScheduleOptions m_schedule;
};

}  // namespace bilevel
