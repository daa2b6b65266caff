#pragma once
/// \file
/// Image files on the host: PNG/JPEG in (via stb_image), PNG out (via stb_image_write), as
/// planar (C, H, W) floats in [0, 1]. The host side of the library only; batches for the solvers
/// are built from these by io/dataset.hpp.

#include <cstdint>
#include <string>
#include <vector>

namespace bilevel::io {

/// \brief One image on the host, planar: value(c, i, j) = data[(c * h + i) * w + j], in [0, 1].
struct HostImage {
  int c = 0, h = 0, w = 0;
  std::vector<float> data;

  HostImage() = default;
  HostImage(int channels, int height, int width)
      : c(channels), h(height), w(width), data(std::size_t(channels) * height * width, 0.0f) {}
  float& operator()(int ch, int i, int j) { return data[(std::size_t(ch) * h + i) * w + j]; }
  float operator()(int ch, int i, int j) const { return data[(std::size_t(ch) * h + i) * w + j]; }
};

/// \brief Channel handling on read: keep the file's, or convert to grey (1) or colour (3).
enum class Channels { keep = 0, grey = 1, rgb = 3 };

/// \brief Reads a PNG or JPEG. Grey conversion uses ITU-R BT.601 luma weights; an alpha channel
/// is dropped. Throws bilevel::Error naming the file if it is missing, unreadable or corrupt.
HostImage read_image(const std::string& path, Channels channels = Channels::keep);

/// \brief Writes an 8-bit PNG (1 or 3 channels, values clamped to [0, 1] and rounded),
/// atomically. Throws bilevel::Error naming the file on failure.
void write_png(const std::string& path, const HostImage& image);

/// \brief Quantises [0, 1] to 8 bits the way write_png does (round to nearest, clamp).
std::uint8_t to_byte(float v);

}  // namespace bilevel::io
