#include <algorithm>
#include <bilevel/core/error.hpp>
#include <bilevel/core/random.hpp>
#include <bilevel/io/dataset.hpp>
#include <cctype>
#include <filesystem>

namespace bilevel::io {

namespace {
bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return char(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

void require_fits(const HostImage& image, int h, int w, const char* what) {
  require(h > 0 && w > 0, what, ": crop size must be positive, got ", h, "x", w);
  require(image.h >= h && image.w >= w, what, ": crop ", h, "x", w, " is larger than the image (",
          image.h, "x", image.w, ")");
}
}  // namespace

std::vector<std::string> list_images(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  require(fs::is_directory(folder, ec), "image folder '", folder, "' does not exist");
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(folder, ec))
    if (entry.is_regular_file(ec) && is_image_file(entry.path()))
      paths.push_back(entry.path().string());
  require(!ec, "cannot list image folder '", folder, "': ", ec.message());
  require(!paths.empty(), "image folder '", folder, "' holds no PNG or JPEG images");
  std::sort(paths.begin(), paths.end());
  return paths;
}

ImageFolder load_folder(const std::string& folder, Channels channels, int max_images) {
  ImageFolder out;
  out.paths = list_images(folder);
  if (max_images > 0 && int(out.paths.size()) > max_images) out.paths.resize(max_images);
  out.images.reserve(out.paths.size());
  for (const auto& p : out.paths) out.images.push_back(read_image(p, channels));
  return out;
}

HostImage crop(const HostImage& image, int top, int left, int h, int w) {
  require_fits(image, h, w, "crop");
  require(top >= 0 && left >= 0 && top + h <= image.h && left + w <= image.w, "crop: window at (",
          top, ", ", left, ") of size ", h, "x", w, " leaves the ", image.h, "x", image.w,
          " image");
  HostImage out(image.c, h, w);
  for (int c = 0; c < image.c; ++c)
    for (int i = 0; i < h; ++i)
      std::copy_n(&image.data[(std::size_t(c) * image.h + top + i) * image.w + left], w,
                  &out.data[(std::size_t(c) * h + i) * w]);
  return out;
}

HostImage centre_crop(const HostImage& image, int h, int w) {
  require_fits(image, h, w, "centre_crop");
  return crop(image, (image.h - h) / 2, (image.w - w) / 2, h, w);
}

HostImage random_crop(const std::vector<HostImage>& images, int h, int w, std::uint64_t seed,
                      std::uint64_t k) {
  require(!images.empty(), "random_crop: no images to crop from");
  const std::uint64_t key = splitmix64(splitmix64(seed) ^ (k * 0x9E3779B97F4A7C15ull));
  const HostImage& img = images[splitmix64(key ^ 1) % images.size()];
  require_fits(img, h, w, "random_crop");
  const int top = int(splitmix64(key ^ 2) % std::uint64_t(img.h - h + 1));
  const int left = int(splitmix64(key ^ 3) % std::uint64_t(img.w - w + 1));
  return crop(img, top, left, h, w);
}

std::vector<HostImage> random_crops(const std::vector<HostImage>& images, int count, int h, int w,
                                    std::uint64_t seed, std::uint64_t first) {
  std::vector<HostImage> out;
  out.reserve(std::max(count, 0));
  for (int k = 0; k < count; ++k) out.push_back(random_crop(images, h, w, seed, first + k));
  return out;
}

std::vector<HostImage> centre_crops(const std::vector<HostImage>& images, int h, int w) {
  std::vector<HostImage> out;
  out.reserve(images.size());
  for (const auto& img : images) out.push_back(centre_crop(img, h, w));
  return out;
}

}  // namespace bilevel::io
