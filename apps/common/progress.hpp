#pragma once
// Progress lines of long runs: elapsed time and an ETA from whichever stopping rule (cost budget,
// step limit, wall-time limit) is closest to being reached.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace bilevel::apps {

/// "1h02m", "3m07s" or "12s".
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

/// Fraction of the run done (0 .. 1) by the rule that is furthest along; 0 if there is none.
inline double fraction_done(long cost, long budget, long steps, long max_steps, double seconds,
                            double max_seconds) {
  double f = 0;
  if (budget > 0) f = std::max(f, double(cost) / double(budget));
  if (max_steps > 0) f = std::max(f, double(steps) / double(max_steps));
  if (max_seconds > 0) f = std::max(f, seconds / max_seconds);
  return std::min(f, 1.0);
}

/// Seconds left, extrapolated from `seconds` spent since fraction `f0` (a resumed run's start)
/// to reach `f` (infinite if unknown).
inline double eta_seconds(double seconds, double f, double f0 = 0) {
  return f > f0 ? seconds * (1 - f) / (f - f0) : INFINITY;
}

}  // namespace bilevel::apps
