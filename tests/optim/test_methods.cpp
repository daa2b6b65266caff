#include <bilevel/io/hdf5_file.hpp>
#include <bilevel/optim/methods.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/train/trainer.hpp>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

TEST(Methods, TheRegistryNamesEveryMethodAndRefusesUnknownOnes) {
  EXPECT_EQ(method_names(), (std::vector<std::string>{"isgd", "iadam", "maid", "hoag"}));
  for (const auto& entry : methods<double>()) {
    const auto m = make_method<double>(entry.name, ScheduleOptions{});
    EXPECT_EQ(m->name(), entry.name);
    EXPECT_EQ(m->full_batch(), entry.name == "maid" || entry.name == "hoag") << entry.name;
    for (const auto& o : entry.options) EXPECT_FALSE(o.help.empty()) << entry.name << " " << o.name;
  }
  expect_error([] { make_method<double>("sgd", ScheduleOptions{}); },
               "unknown upper-level method 'sgd' (expected isgd, iadam, maid, hoag)");
  expect_error(
      [] {
        make_method<double>("isgd", ScheduleOptions{}, {{"rho", 0.3}});
      },
      "method 'isgd' has no option 'rho' (it has none)");
  expect_error(
      [] {
        make_method<double>("maid", ScheduleOptions{}, {{"rh", 0.3}});
      },
      "method 'maid' has no option 'rh' (its options: rho, c, tighten");
  expect_error(
      [] {
        make_method<double>("maid", ScheduleOptions{}, {{"rho", 1.5}});
      },
      "maid: rho must be in (0, 1), got 1.5");
  expect_error(
      [] {
        make_method<double>("maid", ScheduleOptions{}, {{"j0", 2.5}});
      },
      "maid: j0 and max_rounds must be whole numbers");
  expect_error(
      [] {
        make_method<double>("iadam", ScheduleOptions{}, {{"beta2", 1}});
      },
      "iadam: beta1 and beta2 must be in [0, 1)");
  expect_error(
      [] {
        make_method<double>("hoag", ScheduleOptions{}, {{"grow", 0.5}});
      },
      "hoag: shrink must be in (0, 1] and grow >= 1");
}

TEST(Methods, StateIsNamedAndRoundTrips) {
  ScheduleOptions s;
  s.step.alpha0 = 0.25;
  s.accuracy.eps0 = 0.125;
  auto maid = make_method<double>("maid", s, {{"rho", 0.3}});
  const MethodState m = maid->state();
  EXPECT_EQ(m.real("eps"), 0.125);
  EXPECT_EQ(m.real("alpha"), 0.25);
  EXPECT_EQ(m.counter("stalled"), 0);
  expect_error([&] { m.real("beta"); }, "method state has no real 'beta'");
  auto hoag = make_method<double>("hoag", s);
  hoag->set_state({{{"alpha", 0.5}, {"previous_loss", 3.0}}, {}});
  EXPECT_EQ(hoag->state().real("alpha"), 0.5);
  EXPECT_EQ(hoag->state().real("previous_loss"), 3.0);
  expect_error([&] { hoag->set_state({}); }, "method state has no real 'alpha'");
  EXPECT_TRUE(make_method<double>("isgd", s)->state().reals.empty());
  EXPECT_EQ(make_method<double>("iadam", s)->state().counter("steps"), 0);
}

// A method the library does not ship, written as a user would: sign descent with a decaying
// step, its step count as named state. It plugs into the Trainer, its checkpoints and resume
// without any change to the library.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class SignDescent : public UpperLevelMethod<Scalar, ExecSpace> {
  using Base = UpperLevelMethod<Scalar, ExecSpace>;

 public:
  explicit SignDescent(double alpha) : m_alpha(alpha) {}
  std::string name() const override { return "sign_descent"; }
  bool full_batch() const override { return false; }
  StepRecord step(typename Base::Problem& p, long k) override {
    p.next_batch();
    const auto h = p.hypergradient(1e-3, 1e-3, false);
    const double a = m_alpha / double(m_steps + 1);
    const auto z = h.z;
    this->descend(p, [&](const auto& theta) {
      Kokkos::parallel_for(
          "bilevel::test::sign_descent", Kokkos::RangePolicy<ExecSpace>(p.space(), 0, z.extent(0)),
          KOKKOS_LAMBDA(int i) { theta(i) -= Scalar(z(i) > 0 ? a : (z(i) < 0 ? -a : 0)); });
    });
    ++m_steps;
    (void)k;
    return Base::record(p, h, 1e-3, 1e-3, a);
  }
  MethodState state() const override { return {{}, {{"steps", m_steps}}}; }
  void set_state(const MethodState& s) override { m_steps = s.counter("steps"); }

 private:
  double m_alpha;
  std::int64_t m_steps = 0;
};

TEST(Methods, AUserMethodTrainsCheckpointsAndResumes) {
  TempDir dir;
  const Shape s{4, 1, 8, 8};
  TaskData<double> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                         random_images<double>(s, 3));
  TrainOptions o;
  o.batch_size = 2;
  auto run = [&](int steps, const std::string& resume, const std::string& save) {
    SmoothedTV<double> tv(DefaultExecSpace(), 1);
    Trainer<double> t(DefaultExecSpace(), tv, train, nullptr, o,
                      std::make_unique<SignDescent<double>>(0.2));
    if (!resume.empty()) t.load_checkpoint(resume);
    for (int k = 0; k < steps; ++k) t.step();
    if (!save.empty()) t.save_checkpoint(save);
    EXPECT_EQ(t.method().name(), "sign_descent");
    return tv.params_host();
  };
  const auto theta0 = [] { return SmoothedTV<double>(DefaultExecSpace(), 1).params_host(); }();
  const auto straight = run(4, "", "");
  EXPECT_NE(straight, theta0);
  run(2, "", dir.path("sign.h5"));
  io::Hdf5File f(dir.path("sign.h5"), io::Hdf5File::Mode::read);
  EXPECT_EQ(f.read_attribute("method"), "sign_descent");
  EXPECT_EQ(f.read_ints("method.steps"), std::vector<std::int64_t>{2});
  EXPECT_EQ(f.read_ints("trainer.k"), std::vector<std::int64_t>{2});
  EXPECT_EQ(run(2, dir.path("sign.h5"), ""), straight);  // bit for bit
  // A checkpoint of another method is refused by name.
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  Trainer<double> isgd(DefaultExecSpace(), tv, train, nullptr, o);
  expect_error([&] { isgd.load_checkpoint(dir.path("sign.h5")); },
               "is for method 'sign_descent', this run uses 'isgd'");
}

}  // namespace
}  // namespace bilevel::test
