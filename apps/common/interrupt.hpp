#pragma once
// Ctrl-C for long runs: the first SIGINT/SIGTERM only raises a flag that the training loop
// checks between steps (it then writes a checkpoint and exits); a second one ends the process
// at once. Atomic writes keep every output file whole in both cases.

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

namespace bilevel::apps {

namespace detail {
inline volatile std::sig_atomic_t& interrupt_flag() {
  static volatile std::sig_atomic_t flag = 0;
  return flag;
}
extern "C" inline void on_interrupt(int sig) {
  interrupt_flag() = sig;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C terminates immediately
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
inline void catch_interrupts() {
  std::signal(SIGINT, detail::on_interrupt);
  std::signal(SIGTERM, detail::on_interrupt);
}

/// From now on SIGINT/SIGTERM print `message` (one line) and end the process with status 130:
/// for a final phase that has nothing left to save. A signal already received stays visible
/// through interrupted().
inline void exit_on_interrupt(const std::string& message) {
  const std::string line = message + "\n";
  std::strncpy(detail::farewell(), line.c_str(), 1023);
  std::signal(SIGINT, detail::on_interrupt_exit);
  std::signal(SIGTERM, detail::on_interrupt_exit);
}

/// The signal received since catch_interrupts (0: none).
inline int interrupted() { return detail::interrupt_flag(); }

}  // namespace bilevel::apps
