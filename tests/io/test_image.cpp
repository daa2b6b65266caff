#include <bilevel/core/error.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/image.hpp>
#include <fstream>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

io::HostImage gradient_image(int c, int h, int w) {
  io::HostImage img(c, h, w);
  for (int k = 0; k < c; ++k)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) img(k, i, j) = float((17 * k + 5 * i + 3 * j) % 256) / 255.0f;
  return img;
}

TEST(ImageIO, PngRoundTripIsExactFor8BitValues) {
  TempDir dir;
  for (int c : {1, 3}) {
    const auto img = gradient_image(c, 13, 21);
    const std::string path = dir.path("img" + std::to_string(c) + ".png");
    io::write_png(path, img);
    const auto back = io::read_image(path);
    ASSERT_EQ(back.c, c);
    ASSERT_EQ(back.h, 13);
    ASSERT_EQ(back.w, 21);
    for (std::size_t k = 0; k < img.data.size(); ++k) ASSERT_EQ(back.data[k], img.data[k]) << k;
  }
}

TEST(ImageIO, ChannelConversionOnRead) {
  TempDir dir;
  io::HostImage rgb(3, 1, 2);
  rgb(0, 0, 0) = 1.0f;  // pure red
  rgb(2, 0, 1) = 1.0f;  // pure blue
  io::write_png(dir.path("rgb.png"), rgb);
  const auto grey = io::read_image(dir.path("rgb.png"), io::Channels::grey);
  ASSERT_EQ(grey.c, 1);
  EXPECT_NEAR(grey(0, 0, 0), 0.299f, 1e-6);
  EXPECT_NEAR(grey(0, 0, 1), 0.114f, 1e-6);
  io::HostImage g(1, 1, 1);
  g(0, 0, 0) = 128 / 255.0f;
  io::write_png(dir.path("g.png"), g);
  const auto colour = io::read_image(dir.path("g.png"), io::Channels::rgb);
  ASSERT_EQ(colour.c, 3);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(colour(k, 0, 0), 128 / 255.0f);
}

TEST(ImageIO, QuantisationClampsAndRounds) {
  EXPECT_EQ(io::to_byte(-0.2f), 0);
  EXPECT_EQ(io::to_byte(1.7f), 255);
  EXPECT_EQ(io::to_byte(std::nanf("")), 0);
  EXPECT_EQ(io::to_byte(0.5f), 128);  // 127.5 rounds half away from zero
  EXPECT_EQ(io::to_byte(100 / 255.0f), 100);
}

TEST(ImageIO, MissingAndCorruptFilesNameTheFile) {
  TempDir dir;
  expect_error([&] { io::read_image(dir.path("nope.png")); }, "nope.png': no such file");
  {
    std::ofstream f(dir.path("bad.png"), std::ios::binary);
    f << "\x89PNG\r\n\x1a\n this is not a png";
  }
  expect_error([&] { io::read_image(dir.path("bad.png")); }, "cannot read image '");
  expect_error([&] { io::read_image(dir.path("bad.png")); }, "bad.png");
  // A truncated copy of a valid PNG is refused too.
  io::write_png(dir.path("ok.png"), gradient_image(3, 32, 32));
  std::ifstream in(dir.path("ok.png"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir.path("cut.png"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_error([&] { io::read_image(dir.path("cut.png")); }, "cut.png");
}

TEST(AtomicFile, UnwritableFolderFailsAndLeavesNothing) {
  TempDir dir;
  expect_error([&] { io::write_png(dir.path("missing/x.png"), gradient_image(1, 2, 2)); },
               "folder '");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicFile, FailedWriteKeepsThePreviousFileAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.path("out.txt");
  io::write_text_atomically(path, "first");
  expect_error([&] { io::write_atomically(path, [](const std::string&) { return false; }); },
               "out.txt");
  EXPECT_THROW(io::write_atomically(path,
                                    [](const std::string& temp) -> bool {
                                      std::ofstream(temp) << "partial";
                                      throw std::runtime_error("interrupted");
                                    }),
               std::runtime_error);
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "first");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.txt"});
}

}  // namespace
}  // namespace bilevel::test
