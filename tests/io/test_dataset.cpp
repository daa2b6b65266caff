#include <bilevel/io/batch.hpp>
#include <bilevel/io/dataset.hpp>
#include <fstream>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

io::HostImage numbered_image(int c, int h, int w, int tag) {
  io::HostImage img(c, h, w);
  for (std::size_t k = 0; k < img.data.size(); ++k) img.data[k] = float((k * 7 + tag) % 256) / 255;
  return img;
}

TEST(Dataset, ListsImagesSortedAndIgnoresOtherFiles) {
  TempDir dir;
  io::write_png(dir.path("b.png"), numbered_image(1, 4, 4, 1));
  io::write_png(dir.path("a.PNG"), numbered_image(1, 4, 4, 2));
  std::ofstream(dir.path("notes.txt")) << "x";
  const auto paths = io::list_images(dir.path());
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0], dir.path("a.PNG"));
  EXPECT_EQ(paths[1], dir.path("b.png"));
  const auto folder = io::load_folder(dir.path(), io::Channels::rgb, 1);
  ASSERT_EQ(folder.images.size(), 1u);
  EXPECT_EQ(folder.images[0].c, 3);
}

TEST(Dataset, MissingOrEmptyFoldersAreRefused) {
  TempDir dir;
  expect_error([&] { io::list_images(dir.path("absent")); }, "absent' does not exist");
  expect_error([&] { io::list_images(dir.path()); }, "holds no PNG or JPEG images");
}

TEST(Dataset, CentreCropTakesTheMiddle) {
  const auto img = numbered_image(2, 7, 10, 3);
  const auto c = io::centre_crop(img, 3, 4);
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(c(k, i, j), img(k, i + 2, j + 3));
  expect_error([&] { io::centre_crop(img, 8, 4); }, "crop 8x4 is larger than the image (7x10)");
}

TEST(Dataset, RandomCropsAreDeterministicAndCoverImages) {
  std::vector<io::HostImage> images;
  for (int t = 0; t < 3; ++t) images.push_back(numbered_image(1, 20 + t, 30, t));
  const auto a = io::random_crops(images, 50, 8, 8, 99);
  const auto b = io::random_crops(images, 50, 8, 8, 99);
  const auto c = io::random_crops(images, 50, 8, 8, 100);
  const auto tail = io::random_crops(images, 10, 8, 8, 99, 40);
  int same_as_other_seed = 0;
  for (int k = 0; k < 50; ++k) {
    ASSERT_EQ(a[k].data, b[k].data) << "crop " << k;
    same_as_other_seed += a[k].data == c[k].data;
  }
  for (int k = 0; k < 10; ++k) EXPECT_EQ(tail[k].data, a[40 + k].data);
  EXPECT_LT(same_as_other_seed, 5);
  expect_error([&] { io::random_crops(images, 1, 23, 8, 1); }, "larger than the image");
}

template <class Scalar>
class DeviceBatch : public ::testing::Test {};
TYPED_TEST_SUITE(DeviceBatch, Scalars);

TYPED_TEST(DeviceBatch, RoundTripThroughTheDevice) {
  using S = TypeParam;
  std::vector<io::HostImage> images{numbered_image(3, 5, 6, 1), numbered_image(3, 5, 6, 2)};
  auto batch = io::to_device<S>(images, "batch");
  EXPECT_EQ(shape_of(batch), (Shape{2, 3, 5, 6}));
  const auto back = io::to_host(batch);
  for (int n = 0; n < 2; ++n)
    for (std::size_t k = 0; k < images[n].data.size(); ++k)
      EXPECT_FLOAT_EQ(back[n].data[k], images[n].data[k]);
  images.push_back(numbered_image(1, 5, 6, 3));
  expect_error([&] { io::to_device<S>(images, "batch"); }, "image 2 is 1x5x6, image 0 is 3x5x6");
}

}  // namespace
}  // namespace bilevel::test
