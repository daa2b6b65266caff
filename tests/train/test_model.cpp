#include <bilevel/train/model.hpp>
#include <cmath>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

// The message of the exception `parse(text)` throws (empty if it does not throw).
std::string parse_error(const std::string& text) {
  try {
    ModelSpec::parse(text);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

ModelSpec crr_spec() {
  ModelSpec m;
  m.kind = RegularizerKind::crr;
  m.channels = 1;
  m.seed = 42;
  m.crr.channels = {3, 5};
  m.crr.kernel_size = 3;
  m.crr.potential = RidgePotentialKind::log_cosh;
  m.crr.beta = 250;
  m.crr.spectral_size = 16;
  m.crr.initial_scale = 0.05;
  return m;
}

TEST(ModelSpec, CrrRoundTripsThroughText) {
  const ModelSpec a = crr_spec();
  const ModelSpec b = ModelSpec::parse(a.to_string());
  EXPECT_EQ(b.to_string(), a.to_string());
  EXPECT_EQ(b.kind, RegularizerKind::crr);
  EXPECT_EQ(b.channels, 1);
  EXPECT_EQ(b.seed, 42u);
  EXPECT_EQ(b.crr.channels, (std::vector<int>{3, 5}));
  EXPECT_EQ(b.crr.kernel_size, 3);
  EXPECT_EQ(b.crr.potential, RidgePotentialKind::log_cosh);
  EXPECT_EQ(b.crr.beta, 250);
  EXPECT_EQ(b.crr.spectral_size, 16);
  EXPECT_EQ(b.crr.initial_scale, 0.05);
}

TEST(ModelSpec, EveryKindRoundTripsAndBuildsItsRegularizer) {
  for (const char* kind : {"crr", "icnn", "foe", "tv"}) {
    ModelSpec m;
    m.kind = parse_regularizer(kind);
    m.channels = 3;
    m.foe_filters = 4;
    m.foe_kernel = 5;
    const ModelSpec back = ModelSpec::parse(m.to_string());
    EXPECT_EQ(back.to_string(), m.to_string()) << kind;
    auto reg = make_regularizer<double>(DefaultExecSpace(), back);
    EXPECT_EQ(reg->name(), kind);
    if (m.kind == RegularizerKind::foe) {
      EXPECT_EQ(reg->num_params(), 4 * 3 * 25 + 4 + 1);
    }
  }
}

TEST(ModelSpec, IcnnRoundTripsThroughText) {
  ModelSpec m;
  m.kind = RegularizerKind::icnn;
  m.icnn.hidden = 6;
  m.icnn.kernel_size = 3;
  m.icnn.initial_scale = 0.01;
  const ModelSpec b = ModelSpec::parse(m.to_string());
  EXPECT_EQ(b.icnn.hidden, 6);
  EXPECT_EQ(b.icnn.kernel_size, 3);
  EXPECT_EQ(b.icnn.initial_scale, 0.01);
  auto reg = make_regularizer<double>(DefaultExecSpace(), b);
  const auto theta = reg->params_host();
  const ParamBlock& s = reg->blocks().back();
  ASSERT_EQ(s.name, "log_scale");
  EXPECT_NEAR(theta[std::size_t(s.offset)], std::log(0.01), 1e-15);
}

TEST(ModelSpec, InitialCrrScaleSetsTheLogScales) {
  auto reg = make_regularizer<double>(DefaultExecSpace(), crr_spec());
  const auto theta = reg->params_host();
  const ParamBlock& s = reg->blocks().back();
  ASSERT_EQ(s.name, "log_scale");
  ASSERT_EQ(s.size, 5);
  for (std::int64_t k = 0; k < s.size; ++k)
    EXPECT_NEAR(theta[std::size_t(s.offset + k)], std::log(0.05), 1e-15);
}

TEST(ModelSpec, CrrInitGainScalesTheFiltersOnlyAndRoundTrips) {
  ModelSpec gained = crr_spec();
  gained.crr.init_gain = 2.5;
  // The default gain is not written, so descriptions from before the option stay the same.
  EXPECT_EQ(crr_spec().to_string().find("init_gain"), std::string::npos);
  EXPECT_EQ(ModelSpec::parse(gained.to_string()).crr.init_gain, 2.5);
  EXPECT_EQ(ModelSpec::parse(gained.to_string()).to_string(), gained.to_string());
  const auto plain = make_regularizer<double>(DefaultExecSpace(), crr_spec())->params_host();
  const auto reg = make_regularizer<double>(DefaultExecSpace(), gained);
  const auto theta = reg->params_host();
  const std::int64_t filters_end = reg->blocks().back().offset;  // log_scale comes last
  for (std::size_t k = 0; k < theta.size(); ++k) {
    const double expected = std::int64_t(k) < filters_end ? 2.5 * plain[k] : plain[k];
    EXPECT_NEAR(theta[k], expected, 1e-14 * (1 + std::abs(expected))) << k;
  }
}

TEST(ModelSpec, CrrMaxScaleRoundTripsAndIsWrittenOnlyWhenSet) {
  ModelSpec capped = crr_spec();
  capped.crr.max_scale = 0.3;
  EXPECT_EQ(crr_spec().to_string().find("max_scale"), std::string::npos);
  EXPECT_EQ(ModelSpec::parse(capped.to_string()).crr.max_scale, 0.3);
  EXPECT_EQ(ModelSpec::parse(capped.to_string()).to_string(), capped.to_string());
}

TEST(ModelSpec, OlderCrrDescriptionsWithoutInitialScaleStillParse) {
  std::string text = crr_spec().to_string();
  text = text.substr(0, text.find(";crr.initial_scale"));
  EXPECT_EQ(ModelSpec::parse(text).crr.initial_scale, 1.0);
}

void expect_parse_error(const std::string& text, const std::string& fragment) {
  const std::string message = parse_error(text);
  EXPECT_NE(message.find(fragment), std::string::npos) << text << " -> '" << message << "'";
}

TEST(ModelSpec, MalformedDescriptionsNameTheProblem) {
  expect_parse_error("kind=crr;channels", "'channels' is not key=value");
  expect_parse_error("kind=tv;seed=0", "'channels' is missing");
  expect_parse_error("kind=tv;channels=x;seed=0", "'channels' is not an integer");
  expect_parse_error("kind=zzz;channels=3;seed=0", "zzz");
  // Corrupt numbers name their field rather than the C++ function that failed ("stoull").
  expect_parse_error("kind=tv;channels=3;seed=x1", "'seed' is not a seed ('x1')");
  expect_parse_error("kind=tv;channels=3;seed=-1", "'seed' is not a seed ('-1')");
  expect_parse_error("kind=tv;channels=3x;seed=0", "'channels' is not an integer ('3x')");
  const std::string crr =
      "kind=crr;channels=3;seed=0;crr.kernel=5;crr.potential=huber;"
      "crr.spectral_size=64;";
  expect_parse_error(crr + "crr.channels=4,,8;crr.beta=100",
                     "'crr.channels' is not a list of integers ('')");
  expect_parse_error(crr + "crr.channels=4;crr.beta=1e999", "'crr.beta' is not a number");
  expect_parse_error(crr + "crr.channels=4;crr.beta=", "'crr.beta' is not a number ('')");
}

}  // namespace
}  // namespace bilevel::test
