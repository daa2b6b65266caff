#pragma once
// A run's settings as JSON, from the INI text CLI11 writes for it (one "name=value" per line):
// numbers stay numbers, quoted strings lose their quotes, lists stay text.

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace bilevel::apps {

inline nlohmann::json settings_json(const std::string& ini) {
  nlohmann::json out = nlohmann::json::object();
  std::istringstream in(ini);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || line[0] == '[' || eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    try {
      std::size_t used = 0;
      const double v = std::stod(value, &used);
      if (used == value.size()) {
        out[key] = v;
        continue;
      }
    } catch (const std::exception&) {
    }
    out[key] = value;
  }
  return out;
}

}  // namespace bilevel::apps
