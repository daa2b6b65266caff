#include <stb_image.h>
#include <stb_image_write.h>

#include <bilevel/core/error.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/image.hpp>
#include <cmath>
#include <filesystem>
#include <memory>

namespace bilevel::io {

std::uint8_t to_byte(float v) {
  if (!(v > 0.0f)) return 0;  // also maps NaN to 0
  if (v >= 1.0f) return 255;
  return std::uint8_t(std::lround(v * 255.0f));
}

HostImage read_image(const std::string& path, Channels channels) {
  std::error_code ec;
  require(std::filesystem::is_regular_file(path, ec), "cannot read image '", path,
          "': no such file");
  int w = 0, h = 0, file_c = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &file_c, 0),
                                                   stbi_image_free);
  require(pixels != nullptr, "cannot read image '", path,
          "': ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  const int colour = file_c >= 3 ? 3 : 1;  // drop alpha (2 = grey + alpha, 4 = RGBA)
  const int out_c = channels == Channels::keep ? colour : int(channels);
  HostImage img(out_c, h, w);
  const stbi_uc* p = pixels.get();
  for (int i = 0; i < h; ++i) {
    for (int j = 0; j < w; ++j) {
      const stbi_uc* px = p + (std::size_t(i) * w + j) * file_c;
      float rgb[3];
      for (int k = 0; k < 3; ++k) rgb[k] = px[colour == 3 ? k : 0] / 255.0f;
      if (out_c == 3) {
        for (int k = 0; k < 3; ++k) img(k, i, j) = rgb[k];
      } else {
        img(0, i, j) = colour == 1 ? rgb[0] : 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      }
    }
  }
  return img;
}

void write_png(const std::string& path, const HostImage& image) {
  require(image.c == 1 || image.c == 3, "cannot write '", path, "': PNG output needs 1 or 3 ",
          "channels, the image has ", image.c);
  require(
      image.h > 0 && image.w > 0 && image.data.size() == std::size_t(image.c) * image.h * image.w,
      "cannot write '", path, "': empty or inconsistent image");
  std::vector<std::uint8_t> bytes(image.data.size());
  for (int i = 0; i < image.h; ++i)
    for (int j = 0; j < image.w; ++j)
      for (int k = 0; k < image.c; ++k)
        bytes[(std::size_t(i) * image.w + j) * image.c + k] = to_byte(image(k, i, j));
  // Encoded in memory and written through checked calls: stbi_write_png ignores fwrite errors
  // and would leave a cut PNG on a full disk.
  std::vector<unsigned char> png;
  const auto append = [](void* out, void* data, int size) {
    auto* v = static_cast<std::vector<unsigned char>*>(out);
    const auto* d = static_cast<const unsigned char*>(data);
    v->insert(v->end(), d, d + size);
  };
  require(stbi_write_png_to_func(append, &png, image.w, image.h, image.c, bytes.data(),
                                 image.w * image.c) != 0,
          "cannot write '", path, "': PNG encoding failed");
  write_atomically(path, [&](const std::string& temp) {
    write_bytes(temp, png.data(), png.size());
    return true;
  });
}

}  // namespace bilevel::io
