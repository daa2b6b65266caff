// Writes small deterministic PNG test images (and one corrupt file on request) for the
// command-line tests: make_test_images FOLDER COUNT SIZE [corrupt].
#include <bilevel/io/image.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: make_test_images FOLDER COUNT SIZE [corrupt]\n");
    return 2;
  }
  const std::string folder = argv[1];
  const int count = std::atoi(argv[2]), size = std::atoi(argv[3]);
  std::filesystem::create_directories(folder);
  for (int t = 0; t < count; ++t) {
    bilevel::io::HostImage img(3, size, size + 3);
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < img.h; ++i)
        for (int j = 0; j < img.w; ++j)
          img(c, i, j) = float((i * (c + 1) + 2 * j + 40 * t) % 256) / 255.0f;
    bilevel::io::write_png(folder + "/img" + std::to_string(t) + ".png", img);
  }
  if (argc > 4 && std::string(argv[4]) == "corrupt")
    std::ofstream(folder + "/zz_corrupt.png", std::ios::binary) << "\x89PNG\r\n\x1a\nbroken";
  return 0;
}
