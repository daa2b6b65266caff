#pragma once
/// \file
/// Moving images between host HostImage lists and device image batches. The only place where
/// image data crosses the host/device boundary: through a host mirror and one deep_copy.

#include <bilevel/core/views.hpp>
#include <bilevel/io/image.hpp>
#include <string>
#include <vector>

namespace bilevel::io {

/// \brief Packs equally sized host images into a device batch (N, C, H, W).
template <class Scalar, class MemorySpace = DefaultMemSpace>
Images<Scalar, MemorySpace> to_device(const std::vector<HostImage>& images,
                                      const std::string& label) {
  require(!images.empty(), "to_device('", label, "'): no images");
  const HostImage& first = images.front();
  Shape s{int(images.size()), first.c, first.h, first.w};
  auto batch = make_images<Scalar, MemorySpace>(label, s);
  auto host = Kokkos::create_mirror_view(batch);
  for (int n = 0; n < s.n; ++n) {
    const HostImage& img = images[n];
    require(img.c == s.c && img.h == s.h && img.w == s.w, "to_device('", label, "'): image ", n,
            " is ", img.c, "x", img.h, "x", img.w, ", image 0 is ", s.c, "x", s.h, "x", s.w);
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j) host(n, c, i, j) = Scalar(img(c, i, j));
  }
  Kokkos::deep_copy(batch, host);
  return batch;
}

/// \brief Copies a device batch back to host images (fences).
template <class View>
std::vector<HostImage> to_host(const View& batch) {
  const Shape s = shape_of(batch);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), batch);
  std::vector<HostImage> out;
  out.reserve(s.n);
  for (int n = 0; n < s.n; ++n) {
    HostImage img(s.c, s.h, s.w);
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j) img(c, i, j) = float(host(n, c, i, j));
    out.push_back(std::move(img));
  }
  return out;
}

}  // namespace bilevel::io
