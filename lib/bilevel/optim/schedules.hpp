#pragma once
/// \file
/// Step-size and accuracy schedules of the upper-level methods (DESIGN.md section 6, main
/// paper section 2): alpha_k = alpha0 (k+1)^(-q); eps_k = eps0 (k+1)^(-p) (polynomial) or
/// eps0 (log(k+2))^(-p) (logarithmic); HOAG's eps_k geometric eps0 rho^k, quadratic
/// eps0 / (k+1)^2 or cubic eps0 / (k+1)^3.

#include <bilevel/core/error.hpp>
#include <cmath>
#include <string>

namespace bilevel {

/// \brief alpha_k = alpha0 (k+1)^(-q).
struct StepSchedule {
  double alpha0 = 1e-2, q = 0.0;
  double operator()(long k) const { return alpha0 * std::pow(double(k + 1), -q); }
};

enum class AccuracyDecay {
  polynomial = 0,
  logarithmic = 1,
  geometric = 2,
  quadratic = 3,
  cubic = 4
};

/// \brief Parses "poly", "log", "geometric", "quadratic" or "cubic".
inline AccuracyDecay parse_accuracy_decay(const std::string& s) {
  if (s == "poly" || s == "polynomial") return AccuracyDecay::polynomial;
  if (s == "log" || s == "logarithmic") return AccuracyDecay::logarithmic;
  if (s == "geometric") return AccuracyDecay::geometric;
  if (s == "quadratic") return AccuracyDecay::quadratic;
  if (s == "cubic") return AccuracyDecay::cubic;
  throw Error("unknown accuracy schedule '" + s +
              "' (expected poly, log, geometric, quadratic or cubic)");
}

/// \brief eps_k for the chosen decay; `p` is the exponent (polynomial, logarithmic) or the
/// ratio rho (geometric).
struct AccuracySchedule {
  double eps0 = 1e-2, p = 0.5;
  AccuracyDecay decay = AccuracyDecay::polynomial;
  double floor = 0;  ///< never below this (e.g. the precision's limit)

  double operator()(long k) const {
    double e = eps0;
    switch (decay) {
      case AccuracyDecay::polynomial:
        e = eps0 * std::pow(double(k + 1), -p);
        break;
      case AccuracyDecay::logarithmic:
        e = eps0 * std::pow(std::log(double(k + 2)), -p);
        break;
      case AccuracyDecay::geometric:
        e = eps0 * std::pow(p, double(k));
        break;
      case AccuracyDecay::quadratic:
        e = eps0 / std::pow(double(k + 1), 2.0);
        break;
      case AccuracyDecay::cubic:
        e = eps0 / std::pow(double(k + 1), 3.0);
        break;
    }
    return std::max(e, floor);
  }
};

}  // namespace bilevel
