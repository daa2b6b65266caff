#include <unistd.h>

#include <bilevel/io/atomic_file.hpp>
#include <filesystem>
#include <fstream>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p) { std::ofstream(p) << "x"; }

// A writer killed mid-write (SIGKILL, a second Ctrl-C) leaves .NAME.tmpPID behind; the next
// writer into the folder removes it, but never the file of a writer that still runs, nor a
// file that only looks similar.
TEST(AtomicFile, StaleTemporariesOfDeadWritersAreRemoved) {
  const fs::path dir = fs::temp_directory_path() / ("bilevel-stale-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string dead = "999999999";  // above any pid_max: no such process
  const std::string alive = std::to_string(getpid());
  touch(dir / (".checkpoint.h5.tmp" + dead));
  touch(dir / (".log.csv.tmp" + dead));
  touch(dir / (".log.csv.tmp" + alive));
  touch(dir / ("checkpoint.h5.tmp" + dead));  // not hidden: not ours
  touch(dir / ".notes.tmpx12");               // no PID
  touch(dir / "log.csv");
  EXPECT_EQ(io::remove_stale_temporaries(dir.string()), 2);
  EXPECT_FALSE(fs::exists(dir / (".checkpoint.h5.tmp" + dead)));
  EXPECT_FALSE(fs::exists(dir / (".log.csv.tmp" + dead)));
  EXPECT_TRUE(fs::exists(dir / (".log.csv.tmp" + alive)));
  EXPECT_TRUE(fs::exists(dir / ("checkpoint.h5.tmp" + dead)));
  EXPECT_TRUE(fs::exists(dir / ".notes.tmpx12"));
  EXPECT_TRUE(fs::exists(dir / "log.csv"));
  EXPECT_EQ(io::remove_stale_temporaries((dir / "absent").string()), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bilevel::test
