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
#include <new>
#include <regex>
#include <stdexcept>
#include <string>

namespace bilevel::apps {

/// Exit statuses: 0 success, 1 runtime failure (bad data, I/O), 2 bad command line, 130 stopped
/// by Ctrl-C (after saving what is needed to resume).
enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2, kInterrupted = 130 };

/// Thrown by an app body that stopped cleanly on Ctrl-C; the message says how to resume.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Every app: when an option is repeated the last one wins, so that a command line can override
/// a --config file or an earlier flag.
inline void last_option_wins(CLI::App& app) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

/// The one line an app prints for a failure. Kokkos reports a failed allocation over several
/// lines with a traceback note; that becomes "out of memory: ..." naming the buffer and size.
inline std::string failure_line(const std::string& what) {
  static const std::regex kokkos(
      R"re(Kokkos failed to allocate memory for label "([^"]*)"[\s\S]*?Allocation of size ([0-9.]+ ?[A-Za-z]*))re");
  std::smatch m;
  if (std::regex_search(what, m, kokkos))
    return "out of memory: cannot allocate " + m[2].str() + "B for '" + m[1].str() +
           "' (use smaller or fewer images)";
  std::string line = what.substr(0, what.find('\n'));
  return line.empty() ? "unknown failure" : line;
}

/// `-o,--output FOLDER`, with the given description.
inline CLI::Option* add_output_option(CLI::App& app, std::string& output, const std::string& what) {
  return app.add_option("-o,--output", output, what)->capture_default_str();
}

/// `--precision float|double` (the Scalar the app's kernels are instantiated for).
inline CLI::Option* add_precision_option(CLI::App& app, std::string& precision) {
  return app.add_option("--precision", precision, "float or double")
      ->capture_default_str()
      ->check(CLI::IsMember({"float", "double"}));
}

/// Calls body(float{}) or body(double{}) as --precision says; the body takes the scalar type
/// from its argument: `with_precision(p, [&](auto s) { run<decltype(s)>(o); })`.
template <class Body>
void with_precision(const std::string& precision, Body&& body) {
  if (precision == "double")
    body(double{});
  else
    body(float{});
}

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
  } catch (const std::bad_alloc& e) {
    std::string line = failure_line(e.what());
    if (line.rfind("out of memory", 0) != 0) line = "out of memory (use smaller or fewer images)";
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), line.c_str());
    return kFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), failure_line(e.what()).c_str());
    return kFailure;
  }
  return kOk;
}

/// run_app for a body templated on the scalar: calls body(float{}) or body(double{}) as the
/// parsed --precision says (see add_precision_option and with_precision).
template <class Body>
int run_app(CLI::App& app, int argc, char** argv, const std::string& precision, Body&& body) {
  return run_app(app, argc, argv, [&] { with_precision(precision, body); });
}

}  // namespace bilevel::apps
