#pragma once
// Ctrl-C for long runs: the first SIGINT/SIGTERM only raises a flag that the training loop
// checks between steps (it then writes a checkpoint and exits); a second one ends the process
// at once. Atomic writes keep every output file whole in both cases.

#include <csignal>

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
}  // namespace detail

/// Installs the handler for SIGINT and SIGTERM.
inline void catch_interrupts() {
  std::signal(SIGINT, detail::on_interrupt);
  std::signal(SIGTERM, detail::on_interrupt);
}

/// The signal received since catch_interrupts (0: none).
inline int interrupted() { return detail::interrupt_flag(); }

}  // namespace bilevel::apps
