#include <sys/resource.h>

#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/image.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/train/trainer.hpp>
#include <csignal>
#include <fstream>
#include <sstream>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

// A disk that fills up, without root or a small mount: RLIMIT_FSIZE makes every write past
// `bytes` fail with EFBIG (SIGXFSZ ignored), exactly where ENOSPC would hit on a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    m_handler = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &m_old);
    rlimit small = m_old;
    small.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &m_old);
    std::signal(SIGXFSZ, m_handler);
  }

 private:
  rlimit m_old{};
  void (*m_handler)(int);
};

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(FullDisk, CheckedWritesReportTheCause) {
  TempDir dir;
  const std::string big(100000, 'x');
  {
    FileSizeLimit limit(4096);
    expect_error([&] { io::write_bytes(dir.path("a.bin"), big.data(), big.size()); },
                 "a.bin': File too large");
  }
  io::write_bytes(dir.path("b.bin"), big.data(), big.size());
  EXPECT_EQ(contents(dir.path("b.bin")), big);
}

TEST(FullDisk, PngAndTextKeepThePreviousFile) {
  TempDir dir;
  io::HostImage img(3, 64, 64);
  std::mt19937 gen(1);  // noise: PNG cannot compress it below a few kB
  for (auto& v : img.data) v = float(gen() % 256) / 255.0f;
  io::write_png(dir.path("p.png"), img);
  io::write_text_atomically(dir.path("t.txt"), "first");
  const std::string png = contents(dir.path("p.png"));
  ASSERT_GT(png.size(), 1024u);
  {
    FileSizeLimit limit(512);
    expect_error([&] { io::write_png(dir.path("p.png"), img); }, "p.png': File too large");
    expect_error([&] { io::write_text_atomically(dir.path("t.txt"), std::string(4096, 'y')); },
                 "t.txt': File too large");
  }
  EXPECT_EQ(contents(dir.path("p.png")), png);
  EXPECT_EQ(contents(dir.path("t.txt")), "first");
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"p.png", "t.txt"}));  // no temporaries
}

TEST(FullDisk, ACheckpointThatDoesNotFitLeavesTheGoodOneAndTheRunGoesOn) {
  TempDir dir;
  const Shape s{4, 1, 16, 16};
  TaskData<double> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                         random_images<double>(s, 5));
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  TrainOptions o;
  o.batch_size = 2;
  Trainer<double> t(DefaultExecSpace(), tv, train, nullptr, o);
  t.step();
  const std::string path = dir.path("checkpoint.h5");
  t.save_checkpoint(path);
  const std::string good = contents(path);
  t.step();
  {
    FileSizeLimit limit(good.size() / 2);
    expect_error([&] { t.save_checkpoint(path); }, "checkpoint.h5': File too large");
  }
  EXPECT_EQ(contents(path), good);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"checkpoint.h5"});
  t.step();  // HDF5 holds nothing half-closed: the run and its next checkpoint go on
  t.save_checkpoint(path);
  SmoothedTV<double> resumed(DefaultExecSpace(), 1);
  Trainer<double> r(DefaultExecSpace(), resumed, train, nullptr, o);
  r.load_checkpoint(path);
  EXPECT_EQ(r.iteration(), 3);
  EXPECT_EQ(resumed.params_host(), tv.params_host());
}

}  // namespace
}  // namespace bilevel::test
