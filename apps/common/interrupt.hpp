#pragma once
// Ctrl-C for long runs: the first SIGINT/SIGTERM only raises a flag that the training loop
// checks between steps (it then writes a checkpoint and exits); a second one ends the process
// at once. Atomic writes keep every output file whole in both cases.
//
// One stop often arrives twice: `timeout` signals the command and then its process group,
// mpirun and batch schedulers signal every process of a job, a terminal signals the whole
// foreground group. A repeat within kRepeatWindow seconds of the first signal is that same
// stop, not a second Ctrl-C (which would otherwise end the run before its checkpoint).

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

namespace bilevel::apps {

/// Seconds after the first signal during which another one counts as the same stop.
inline constexpr double kRepeatWindow = 0.5;

namespace detail {
inline volatile std::sig_atomic_t& interrupt_flag() {
  static volatile std::sig_atomic_t flag = 0;
  return flag;
}
// When the first signal came (written by the handler only; both signals are blocked while it
// runs, so it never races with itself).
inline timespec& first_signal_time() {
  static timespec t{};
  return t;
}
inline double seconds_since(const timespec& t0) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  return double(now.tv_sec - t0.tv_sec) + 1e-9 * double(now.tv_nsec - t0.tv_nsec);
}
inline void install(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  ::sigemptyset(&action.sa_mask);
  ::sigaddset(&action.sa_mask, SIGINT);
  ::sigaddset(&action.sa_mask, SIGTERM);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}
extern "C" inline void on_interrupt(int sig) {
  if (interrupt_flag() == 0) {
    ::clock_gettime(CLOCK_MONOTONIC, &first_signal_time());
    interrupt_flag() = sig;
    return;
  }
  if (seconds_since(first_signal_time()) < kRepeatWindow) return;  // the same stop, again
  std::signal(sig, SIG_DFL);  // a second Ctrl-C: end at once, killed by the signal
  ::raise(sig);
}
// The farewell of exit_on_interrupt, kept in static storage: a signal handler may only call
// async-signal-safe functions (write, _exit), never allocate.
inline char* farewell() {
  static char text[1024] = "";
  return text;
}
extern "C" inline void on_interrupt_exit(int sig) {
  interrupt_flag() = sig;
  const char* text = farewell();
  [[maybe_unused]] const auto n = ::write(2, text, std::strlen(text));
  ::_exit(130);
}
}  // namespace detail

/// Installs the handler for SIGINT and SIGTERM.
inline void catch_interrupts() { detail::install(detail::on_interrupt); }

/// From now on SIGINT/SIGTERM print `message` (one line) and end the process with status 130:
/// for a final phase that has nothing left to save. A signal already received stays visible
/// through interrupted().
inline void exit_on_interrupt(const std::string& message) {
  const std::string line = message + "\n";
  std::strncpy(detail::farewell(), line.c_str(), 1023);
  detail::install(detail::on_interrupt_exit);
}

/// The signal received since catch_interrupts (0: none).
inline int interrupted() { return detail::interrupt_flag(); }

}  // namespace bilevel::apps
