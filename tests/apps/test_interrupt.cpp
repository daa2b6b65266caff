// Ctrl-C handling of the apps (common/interrupt.hpp), each case in a child process: one stop
// that arrives twice stays one stop, a later second Ctrl-C ends the run at once, and the final
// phase exits with its message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <common/interrupt.hpp>
#include <csignal>

namespace {

using bilevel::apps::catch_interrupts;
using bilevel::apps::exit_on_interrupt;
using bilevel::apps::interrupted;
using bilevel::apps::kRepeatWindow;

TEST(Interrupt, FirstSignalOnlyRaisesTheFlag) {
  EXPECT_EXIT(
      {
        catch_interrupts();
        const int before = interrupted();
        std::raise(SIGTERM);
        ::_exit(before == 0 && interrupted() == SIGTERM ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

// What `timeout -s INT` does (the process, then its group): the run must still reach its
// checkpoint.
TEST(Interrupt, RepeatedSignalIsTheSameStop) {
  EXPECT_EXIT(
      {
        catch_interrupts();
        std::raise(SIGINT);
        std::raise(SIGINT);
        std::raise(SIGTERM);
        ::_exit(interrupted() == SIGINT ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Interrupt, SecondCtrlCLaterEndsAtOnce) {
  EXPECT_EXIT(
      {
        catch_interrupts();
        std::raise(SIGINT);
        ::usleep(useconds_t(1.2e6 * kRepeatWindow));
        std::raise(SIGINT);
        ::_exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

TEST(Interrupt, FinalPhaseExitsWithItsMessage) {
  EXPECT_EXIT(
      {
        exit_on_interrupt("bilevel-train: interrupted during the final test evaluation");
        std::raise(SIGTERM);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(130), "interrupted during the final test evaluation");
}

}  // namespace
