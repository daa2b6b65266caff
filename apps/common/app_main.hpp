#pragma once
// The frame every Bilevel app runs in: Kokkos initialised around the body, the command line
// parsed by CLI11, and every failure reported as one line "<app>: error: <what>" with a non-zero
// exit status.

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <bilevel/core/error.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>

namespace bilevel::apps {

/// Exit statuses: 0 success, 1 runtime failure (bad data, I/O), 2 bad command line, 130 stopped
/// by Ctrl-C (after saving what is needed to resume).
enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2, kInterrupted = 130 };

/// Thrown by an app body that stopped cleanly on Ctrl-C; the message says how to resume.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parses the command line with `app`, then runs `body` with Kokkos initialised.
inline int run_app(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  const std::string name = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", name.c_str(), e.what());
    return kUsage;
  }
  try {
    Kokkos::ScopeGuard guard(argc, argv);
    body();
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    return kInterrupted;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
    return kFailure;
  }
  return kOk;
}

}  // namespace bilevel::apps
