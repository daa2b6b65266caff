#pragma once
// The upper-level methods as the command line sees them: their names and own options listed
// from the library's registry, and --method-option NAME=VALUE turned into MethodOptions.

#include <bilevel/optim/methods.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace bilevel::apps {

/// "isgd (inexact SGD on mini-batches), iadam (...), ..."
inline std::string method_list() {
  std::string s;
  for (const auto& m : methods<double>())
    s += (s.empty() ? "" : ", ") + m.name + " (" + m.summary + ")";
  return "upper-level method: " + s;
}

/// "iadam: beta1=0.9, ...; maid: rho=0.5, ..." (methods without options left out).
inline std::string method_option_list() {
  std::string s;
  for (const auto& m : methods<double>()) {
    if (m.options.empty()) continue;
    std::string own;
    for (const auto& o : m.options) {
      std::ostringstream v;
      v << o.value;
      own += (own.empty() ? "" : ", ") + o.name + "=" + v.str() + " (" + o.help + ")";
    }
    s += (s.empty() ? "" : "; ") + m.name + ": " + own;
  }
  return s;
}

/// {"rho=0.3", "j0=4"} -> {{"rho", 0.3}, {"j0", 4}}; each was checked by name_equals_number.
/// A name given twice keeps the last value (as for any repeated option).
inline MethodOptions parse_method_options(const std::vector<std::string>& items) {
  MethodOptions out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    out[item.substr(0, eq)] = std::stod(item.substr(eq + 1));
  }
  return out;
}

}  // namespace bilevel::apps
