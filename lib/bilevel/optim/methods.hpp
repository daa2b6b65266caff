#pragma once
/// \file
/// The registry of upper-level methods: a name, a one-line summary, the method's own options
/// with their defaults, and a factory. The CLI and the checkpoints enumerate methods through
/// it; a new method is one header in optim/ plus one entry in methods().

#include <bilevel/optim/hoag.hpp>
#include <bilevel/optim/iadam.hpp>
#include <bilevel/optim/isgd.hpp>
#include <bilevel/optim/maid.hpp>
#include <functional>
#include <memory>

namespace bilevel {

/// \brief One registered upper-level method.
template <class Scalar, class ExecSpace>
struct MethodEntry {
  std::string name, summary;
  std::vector<MethodOption> options;
  std::function<std::unique_ptr<UpperLevelMethod<Scalar, ExecSpace>>(const ScheduleOptions&,
                                                                     const MethodOptions&)>
      make;
};

namespace impl {
template <template <class, class> class Method, class Scalar, class ExecSpace>
MethodEntry<Scalar, ExecSpace> method_entry(const char* name, const char* summary) {
  return {name, summary, Method<Scalar, ExecSpace>::options(),
          [](const ScheduleOptions& s, const MethodOptions& o) {
            return std::unique_ptr<UpperLevelMethod<Scalar, ExecSpace>>(
                std::make_unique<Method<Scalar, ExecSpace>>(s, o));
          }};
}
}  // namespace impl

/// Every registered method, in the order the CLI lists them.
template <class Scalar, class ExecSpace = DefaultExecSpace>
const std::vector<MethodEntry<Scalar, ExecSpace>>& methods() {
  static const std::vector<MethodEntry<Scalar, ExecSpace>> all{
      impl::method_entry<Isgd, Scalar, ExecSpace>("isgd", "inexact SGD on mini-batches"),
      impl::method_entry<Iadam, Scalar, ExecSpace>("iadam", "inexact Adam on mini-batches"),
      impl::method_entry<Maid, Scalar, ExecSpace>("maid", "inexact backtracking, full batch"),
      impl::method_entry<Hoag, Scalar, ExecSpace>("hoag", "HOAG's adaptive step, full batch"),
  };
  return all;
}

/// The registered names, e.g. for a CLI check ("isgd", "iadam", "maid", "hoag").
inline std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (const auto& m : methods<double>()) out.push_back(m.name);
  return out;
}

/// The method called `name` with `options` (each must be one of its own; unknown names and
/// options are refused naming what exists).
template <class Scalar, class ExecSpace = DefaultExecSpace>
std::unique_ptr<UpperLevelMethod<Scalar, ExecSpace>> make_method(
    const std::string& name, const ScheduleOptions& schedule, const MethodOptions& options = {}) {
  std::string known;
  for (const auto& m : methods<Scalar, ExecSpace>()) {
    known += (known.empty() ? "" : ", ") + m.name;
    if (m.name != name) continue;
    for (const auto& [key, value] : options) {
      std::string own;
      bool found = false;
      for (const auto& o : m.options) {
        own += (own.empty() ? "" : ", ") + o.name;
        found = found || o.name == key;
      }
      require(found, "method '", name, "' has no option '", key, "' (",
              own.empty() ? std::string("it has none") : "its options: " + own, ")");
      require(std::isfinite(value), "method '", name, "': option '", key, "' is not finite");
    }
    return m.make(schedule, options);
  }
  throw Error("unknown upper-level method '" + name + "' (expected " + known + ")");
}

}  // namespace bilevel
