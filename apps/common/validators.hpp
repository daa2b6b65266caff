#pragma once
// CLI11 validators shared by the apps: CLI11 parses "nan" and "inf" as numbers, so every real
// option is checked to be finite (and in range) before any work starts.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace bilevel::apps {

inline std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

/// Parses the whole of `s` as a finite number into v; returns what is wrong, or "".
inline std::string parse_finite(const std::string& s, double& v) {
  try {
    std::size_t used = 0;
    v = std::stod(s, &used);
    if (used != s.size()) return "'" + s + "' is not a number";
  } catch (const std::exception&) {
    return "'" + s + "' is not a number";
  }
  if (!std::isfinite(v)) return "'" + s + "' is not a finite number";
  return {};
}

/// A finite real number in [lo, hi].
inline CLI::Validator finite_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        double v = 0;
        if (auto bad = parse_finite(s, v); !bad.empty()) return bad;
        if (v < lo || v > hi)
          return "'" + s + "' is outside [" + number(lo) + ", " + number(hi) + "]";
        return {};
      },
      "FINITE");
}

/// A finite positive real number.
inline CLI::Validator finite_positive() {
  return finite_in(std::numeric_limits<double>::min(), std::numeric_limits<double>::max());
}

/// An odd whole number in 1..max (convolution kernel sizes).
inline CLI::Validator odd_up_to(int max) {
  return CLI::Validator(
      [max](std::string& s) -> std::string {
        double v = 0;
        if (auto bad = parse_finite(s, v); !bad.empty()) return bad;
        if (v != std::floor(v) || v < 1 || v > max || int(v) % 2 == 0)
          return "'" + s + "' is not an odd size from 1 to " + std::to_string(max);
        return {};
      },
      "ODD 1.." + std::to_string(max));
}

/// Digits only: an unsigned number that cannot wrap (CLI11 reads "-1" as 2^64 - 1).
inline CLI::Validator digits_only() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
          return "'" + s + "' is not a non-negative whole number";
        return {};
      },
      "UINT");
}

/// Splits "4,8,64" into whole numbers in [lo, hi]; returns what is wrong ("" if nothing), so an
/// empty field ("4,,8") or a stray character is refused rather than skipped.
inline std::string parse_int_list(const std::string& s, int lo, int hi, std::vector<int>& out) {
  out.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    const std::string field = s.substr(start, comma - start);
    double v = 0;
    if (field.empty()) return "'" + s + "' has an empty entry";
    if (!parse_finite(field, v).empty() || v != std::floor(v) || v < lo || v > hi)
      return "'" + s + "': '" + field + "' is not a whole number from " + std::to_string(lo) +
             " to " + std::to_string(hi);
    out.push_back(int(v));
    if (comma == s.size()) return {};
    start = comma + 1;
  }
}

/// A comma-separated list of whole numbers in [lo, hi] ("4,8,64").
inline CLI::Validator int_list(int lo, int hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        std::vector<int> values;
        return parse_int_list(s, lo, hi, values);
      },
      "N[,N...]");
}

/// NAME=VALUE with a non-empty name and a finite number.
inline CLI::Validator name_equals_number() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const auto eq = s.find('=');
        if (eq == std::string::npos || eq == 0) return "'" + s + "' is not NAME=VALUE";
        double v = 0;
        return parse_finite(s.substr(eq + 1), v);
      },
      "NAME=VALUE");
}

}  // namespace bilevel::apps
