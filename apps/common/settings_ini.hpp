#pragma once
// The settings of a run as an INI file that --config reads back: every option with its value
// (given or default), lists as [a,b,c], strings quoted. Options that only steer this one
// process (--help, --config, --resume, --overwrite) are left out so that replaying the file
// starts afresh and never replaces a run unasked.

#include <CLI/CLI.hpp>
#include <set>
#include <string>

namespace bilevel::apps {

inline std::string settings_ini(const CLI::App& app) {
  const std::set<std::string> skip{"help", "config", "resume", "overwrite"};
  std::string out;
  for (const CLI::Option* opt : app.get_options()) {
    const std::string name = opt->get_single_name();
    if (opt->get_lnames().empty() || skip.count(name)) continue;
    std::string value;
    if (opt->count() > 0) {
      const auto& r = opt->results();
      if (opt->get_expected_max() > 1) {
        value = "[";
        for (std::size_t k = 0; k < r.size(); ++k) value += (k ? "," : "") + r[k];
        value += "]";
      } else {
        value = r.back();
      }
    } else {
      value = opt->get_default_str();
    }
    if (opt->get_type_size() == 0) {  // a flag
      out += name + "=" + (opt->count() > 0 ? "true" : "false") + "\n";
      continue;
    }
    if (value.empty()) continue;
    if (value.front() != '[') value = "\"" + value + "\"";
    out += name + "=" + value + "\n";
  }
  return out;
}

}  // namespace bilevel::apps
