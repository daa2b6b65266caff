#pragma once
// The frame every Bilevel app runs in: MPI (MPI builds) and Kokkos initialised around the
// body, the command line parsed by CLI11, and every failure reported as one line
// "<app>: error: <what>" with a non-zero exit status. Under mpirun only rank 0 prints help and
// command-line errors, and a failure every rank meets (bad input); a failure of some ranks only
// is printed by each of them (ranks above 0 name themselves) and then ends every rank.

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <bilevel/core/error.hpp>
#include <common/mpi_session.hpp>
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

/// Whether an app splits its work over MPI ranks (bilevel-train) or runs on one process.
enum class Ranks { one, many };

/// Parses the command line with `app`, then runs `body` with Kokkos initialised.
inline int run_app(CLI::App& app, int argc, char** argv, const std::function<void()>& body,
                   Ranks ranks = Ranks::one) {
  const std::string name = app.get_name();
  MpiSession mpi(argc, argv);
  current_session() = &mpi;
  const bool root = mpi.world().is_root();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root ? app.exit(e) : kOk;
  } catch (const CLI::CallForVersion& e) {
    return root ? app.exit(e) : kOk;
  } catch (const CLI::ParseError& e) {
    if (root) std::fprintf(stderr, "%s: error: %s (see --help)\n", name.c_str(), e.what());
    return kUsage;
  }
  if (ranks == Ranks::one && mpi.world().size() > 1) {
    if (root)
      std::fprintf(stderr,
                   "%s: error: runs on one process (only bilevel-train splits its work "
                   "over MPI ranks); start it without mpirun\n",
                   name.c_str());
    return kUsage;
  }
  // ranks above 0 name themselves in their messages
  const std::string who = root ? name : name + " (rank " + std::to_string(mpi.world().rank()) + ")";
  const auto fail = [&](const std::string& line) {
    const bool everyone = mpi.every_rank_failed(2.0);
    if (!everyone || root) {
      std::fprintf(stderr, "%s: error: %s\n", (everyone ? name : who).c_str(), line.c_str());
      std::fflush(stderr);
    }
    if (!everyone) mpi.abort_all(kFailure);  // the others may wait for this rank forever
    return kFailure;
  };
  try {
    Kokkos::ScopeGuard guard(argc, argv);
    body();
  } catch (const Interrupted& e) {  // every rank stops at the same step
    if (root) std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    return kInterrupted;
  } catch (const std::bad_alloc& e) {
    std::string line = failure_line(e.what());
    if (line.rfind("out of memory", 0) != 0) line = "out of memory (use smaller or fewer images)";
    return fail(line);
  } catch (const std::exception& e) {
    return fail(failure_line(e.what()));
  }
  return kOk;
}

/// run_app for a body templated on the scalar: calls body(float{}) or body(double{}) as the
/// parsed --precision says (see add_precision_option and with_precision).
template <class Body>
int run_app(CLI::App& app, int argc, char** argv, const std::string& precision, Body&& body,
            Ranks ranks = Ranks::one) {
  return run_app(
      app, argc, argv, [&] { with_precision(precision, body); }, ranks);
}

}  // namespace bilevel::apps
