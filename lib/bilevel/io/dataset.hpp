#pragma once
/// \file
/// Folders of PNG/JPEG images and the crops that training and testing draw from them
/// (DESIGN.md section 7): seeded random crops for training, centre crops for testing.

#include <bilevel/io/image.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace bilevel::io {

/// \brief The PNG/JPEG files directly inside `folder` (extensions .png .jpg .jpeg, any case),
/// sorted by name so that indices are stable. Throws if the folder is missing or has none.
std::vector<std::string> list_images(const std::string& folder);

/// \brief A folder of images loaded into memory with the given channel handling.
struct ImageFolder {
  std::vector<std::string> paths;
  std::vector<HostImage> images;
};

/// \brief Loads every image of `folder` (at most `max_images` of them if > 0, in name order).
ImageFolder load_folder(const std::string& folder, Channels channels, int max_images = 0);

/// \brief The h x w window of `image` whose top-left corner is (top, left).
HostImage crop(const HostImage& image, int top, int left, int h, int w);

/// \brief The centred h x w window. Throws if the image is smaller than h x w.
HostImage centre_crop(const HostImage& image, int h, int w);

/// \brief Crop number `k` of a seeded stream: the image and the window position are drawn from
/// SplitMix64 hashes of (seed, k), so crops are identical on every platform and any crop can be
/// drawn without drawing the ones before it. Throws if an image is smaller than h x w.
HostImage random_crop(const std::vector<HostImage>& images, int h, int w, std::uint64_t seed,
                      std::uint64_t k);

/// \brief Crops `first .. first + count - 1` of the seeded stream.
std::vector<HostImage> random_crops(const std::vector<HostImage>& images, int count, int h, int w,
                                    std::uint64_t seed, std::uint64_t first = 0);

/// \brief Centre crops of every image.
std::vector<HostImage> centre_crops(const std::vector<HostImage>& images, int h, int w);

}  // namespace bilevel::io
