#pragma once
// Image arguments of the apps: each one a PNG/JPEG file or a folder of them, read in the given
// order (a folder's images in name order), with file stems as names.

#include <bilevel/io/dataset.hpp>
#include <common/data_options.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace bilevel::apps {

inline HostSet read_images(const std::vector<std::string>& args, io::Channels channels) {
  HostSet s;
  for (const auto& a : args) {
    const auto files =
        std::filesystem::is_directory(a) ? io::list_images(a) : std::vector<std::string>{a};
    for (const auto& f : files) {
      s.images.push_back(io::read_image(f, channels));
      s.names.push_back(std::filesystem::path(f).stem().string());
    }
  }
  require(!s.images.empty(), "no input images");
  return s;
}

}  // namespace bilevel::apps
