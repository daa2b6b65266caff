#pragma once
/// \file
/// Trainer::save_checkpoint / load_checkpoint: the HDF5 layout (format "bilevel-checkpoint-2").
///   attributes: format, regularizer, scalar, method, task, task_settings (task_settings()),
///               sampling_seed, blocks ("name:offset:size;..."), ranks (of the run that
///               wrote it; informational: any number of ranks resumes it), and
///               TrainOptions::checkpoint_attributes; all but the last are checked on load
///   datasets:   shape (channels, parameters, N, C, H, W), theta, regularizer_state (doubles),
///               warm_x, warm_q (the Scalar type, shaped N,C,H,W), warm_x_seen, warm_q_seen,
///               bound_constants (|J|, L_H, L_J, set), test_x (optional),
///               validation_x, best.step, best.validation_psnr, best.theta,
///               best.regularizer_state (optional: runs with validation data),
///               trainer.k, trainer.cost, trainer.epoch, trainer.position (one value each),
///               method.<name> for each named real or counter of the method's state (one
///               value) and for each of its arrays (the Scalar type, length of theta)
/// Format 1 (before the methods became objects: positional `counters` and `reals`, Adam's
/// moments as adam_m / adam_v, the method as attribute `algorithm`) is still read.
/// Readable from Python (h5py) and HPC tools (h5dump).

#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/hdf5_file.hpp>
#include <bilevel/train/trainer.hpp>  // the class these members belong to (include-once cycle)

namespace bilevel {

namespace impl {
template <class View>
auto host_values(const View& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<typename View::non_const_value_type>(h.data(), h.data() + h.span());
}
template <class Scalar>
std::vector<Scalar> read_scalars(const io::Hdf5File& f, const std::string& name) {
  if constexpr (std::is_same<Scalar, float>::value)
    return f.read_floats(name);
  else
    return f.read_doubles(name);
}
template <class ExecSpace, class View, class Vec>
void upload(const ExecSpace& space, const View& v, const Vec& values, const std::string& what,
            const std::string& path) {
  require(values.size() == v.span(), "checkpoint '", path, "': '", what, "' has ", values.size(),
          " values, expected ", v.span());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t k = 0; k < values.size(); ++k)
    h.data()[k] = typename View::non_const_value_type(values[k]);
  Kokkos::deep_copy(space, v, h);
  space.fence();  // h dies here
}
inline std::string blocks_string(const std::vector<ParamBlock>& blocks) {
  std::string s;
  for (const auto& b : blocks) s += impl::concat(b.name, ":", b.offset, ":", b.size, ";");
  return s;
}
inline std::int64_t read_one(const io::Hdf5File& f, const std::string& name) {
  const auto v = f.read_ints(name);
  require(v.size() == 1, "checkpoint '", f.path(), "': '", name, "' has ", v.size(),
          " values, expected 1");
  return v[0];
}
inline double read_real(const io::Hdf5File& f, const std::string& name) {
  const auto v = f.read_doubles(name);
  require(v.size() == 1, "checkpoint '", f.path(), "': '", name, "' has ", v.size(),
          " values, expected 1");
  return v[0];
}
inline std::vector<std::uint64_t> dims(const Shape& s) {
  return {std::uint64_t(s.n), std::uint64_t(s.c), std::uint64_t(s.h), std::uint64_t(s.w)};
}
}  // namespace impl

template <class Scalar, class ExecSpace>
void Trainer<Scalar, ExecSpace>::save_checkpoint(const std::string& path) const {
  const ProfilingRegion region("bilevel::trainer::checkpoint");
  // The warm starts are replicated, so rank 0 holds all of them; the others wait for the file
  // (if rank 0 fails, its error ends the run).
  if (m_comm.is_root()) write_checkpoint(path);
  m_comm.barrier();
}

template <class Scalar, class ExecSpace>
void Trainer<Scalar, ExecSpace>::write_checkpoint(const std::string& path) const {
  const Shape ts = m_train.image_shape();
  io::write_atomically(path, [&](const std::string& temp) {
    io::Hdf5File f(temp, io::Hdf5File::Mode::create);
    f.write_attribute("format", "bilevel-checkpoint-2");
    f.write_attribute("regularizer", m_reg.name());
    f.write_attribute("scalar", sizeof(Scalar) == 4 ? "float" : "double");
    f.write_attribute("method", m_method->name());
    f.write_attribute("task", task_name(m_train.task().kind));
    f.write_attribute("task_settings", task_settings(m_train.task()));
    f.write_attribute("sampling_seed", std::to_string(m_opt.seed));
    f.write_attribute("blocks", impl::blocks_string(m_reg.blocks()));
    f.write_attribute("ranks", std::to_string(m_comm.size()));
    for (const auto& [key, value] : m_opt.checkpoint_attributes) f.write_attribute(key, value);
    f.write("shape", std::vector<std::int64_t>{m_reg.channels(), m_reg.num_params(), ts.n, ts.c,
                                               ts.h, ts.w});
    f.write("theta", impl::host_values(m_reg.params()));
    f.write("regularizer_state", m_reg.internal_state());
    f.write("warm_x", impl::host_values(m_x_cache.storage()), impl::dims(ts));
    f.write("warm_q", impl::host_values(m_q_cache.storage()), impl::dims(ts));
    const auto seen = [](const std::vector<char>& v) {
      return std::vector<std::int64_t>(v.begin(), v.end());
    };
    f.write("warm_x_seen", seen(m_x_cache.seen_flags()));
    f.write("warm_q_seen", seen(m_q_cache.seen_flags()));
    f.write("bound_constants", m_hyper.constants().to_vector());
    const auto& test_x = test_reconstructions();
    if (test_x.data() != nullptr)
      f.write("test_x", impl::host_values(test_x), impl::dims(shape_of(test_x)));
    if (m_validator && m_validator->reconstructions().data() != nullptr) {
      const auto& v = m_validator->reconstructions();
      f.write("validation_x", impl::host_values(v), impl::dims(shape_of(v)));
    }
    if (m_best.step >= 0) {
      f.write("best.step", std::vector<std::int64_t>{m_best.step});
      f.write("best.validation_psnr", std::vector<double>{m_best.psnr});
      f.write("best.theta", m_best.theta);
      f.write("best.regularizer_state", m_best.state);
    }
    f.write("trainer.k", std::vector<std::int64_t>{m_k});
    f.write("trainer.cost", std::vector<std::int64_t>{m_cost});
    f.write("trainer.epoch", std::vector<std::int64_t>{m_sampler.epoch()});
    f.write("trainer.position", std::vector<std::int64_t>{m_sampler.position()});
    const MethodState state = m_method->state();
    for (const auto& [name, value] : state.reals)
      f.write("method." + name, std::vector<double>{value});
    for (const auto& [name, value] : state.counters)
      f.write("method." + name, std::vector<std::int64_t>{value});
    for (const auto& [name, view] : m_method->arrays())
      f.write("method." + name, impl::host_values(view));
    f.commit();
    return true;
  });
}

template <class Scalar, class ExecSpace>
void Trainer<Scalar, ExecSpace>::load_checkpoint(const std::string& path) {
  const ProfilingRegion region("bilevel::trainer::checkpoint");
  io::Hdf5File f(path, io::Hdf5File::Mode::read);
  auto attribute = [&](const char* attr) {
    return f.has_attribute(attr) ? f.read_attribute(attr) : std::string("(none)");
  };
  auto expect = [&](const char* attr, const std::string& got, const std::string& want) {
    require(got == want, "checkpoint '", path, "' is for ", attr, " '", got, "', this run uses '",
            want, "'");
  };
  const std::string format = attribute("format");
  const bool v1 = format == "bilevel-checkpoint-1";
  require(v1 || format == "bilevel-checkpoint-2", "checkpoint '", path, "' is for format '", format,
          "', this version reads 'bilevel-checkpoint-2' (and -1)");
  expect("regularizer", attribute("regularizer"), m_reg.name());
  expect("scalar", attribute("scalar"), sizeof(Scalar) == 4 ? "float" : "double");
  expect("method", attribute(v1 ? "algorithm" : "method"), m_method->name());
  expect("blocks", attribute("blocks"), impl::blocks_string(m_reg.blocks()));
  expect("task", attribute("task"), task_name(m_train.task().kind));
  if (!v1) {  // format 1 did not record them
    expect("task_settings", attribute("task_settings"), task_settings(m_train.task()));
    expect("sampling_seed", attribute("sampling_seed"), std::to_string(m_opt.seed));
  }
  m_checkpoint_ranks = f.has_attribute("ranks") ? std::stoi(f.read_attribute("ranks")) : 1;
  const Shape ts = m_train.image_shape();
  const auto shape = f.read_ints("shape");
  const std::vector<std::int64_t> want{
      m_reg.channels(), m_reg.num_params(), ts.n, ts.c, ts.h, ts.w};
  require(shape == want, "checkpoint '", path, "' was written for ",
          shape.size() > 1 ? shape[1] : 0, " parameters and a training set of ",
          shape.size() > 5 ? shape[2] : 0, " images of ", shape.size() > 5 ? shape[3] : 0, "x",
          shape.size() > 5 ? shape[4] : 0, "x", shape.size() > 5 ? shape[5] : 0, "; this run has ",
          want[1], " parameters and ", ts.n, " images of ", ts.c, "x", ts.h, "x", ts.w);
  m_reg.set_internal_state(m_space, f.read_doubles("regularizer_state"));
  const auto theta = impl::read_scalars<Scalar>(f, "theta");
  m_reg.set_params(m_space, theta);
  impl::upload(m_space, m_x_cache.storage(), impl::read_scalars<Scalar>(f, "warm_x"), "warm_x",
               path);
  impl::upload(m_space, m_q_cache.storage(), impl::read_scalars<Scalar>(f, "warm_q"), "warm_q",
               path);
  const auto flags = [](const std::vector<std::int64_t>& v) {
    return std::vector<char>(v.begin(), v.end());
  };
  m_x_cache.set_seen_flags(flags(f.read_ints("warm_x_seen")));
  m_q_cache.set_seen_flags(flags(f.read_ints("warm_q_seen")));
  m_hyper.set_constants(BoundConstants::from_vector(f.read_doubles("bound_constants")));

  // The trainer's counters and the method's named state; format 1 kept them positionally.
  MethodState state;
  const std::string array_prefix = v1 ? "adam_" : "method.";  // format 1: adam_m, adam_v
  if (v1) {
    const auto c = f.read_ints("counters");
    const auto r = f.read_doubles("reals");
    require(c.size() == 6 && r.size() == 3, "checkpoint '", path, "': corrupt counters");
    m_k = c[0], m_cost = c[1];
    m_sampler.restore(c[2], c[3]);
    state.counters = {{"steps", c[4]}, {"stalled", c[5]}};
    state.reals = {{"eps", r[0]}, {"alpha", r[1]}, {"previous_loss", r[2]}};
  } else {
    m_k = impl::read_one(f, "trainer.k"), m_cost = impl::read_one(f, "trainer.cost");
    m_sampler.restore(impl::read_one(f, "trainer.epoch"), impl::read_one(f, "trainer.position"));
    const MethodState names = m_method->state();
    for (const auto& entry : names.reals)
      state.reals[entry.first] = impl::read_real(f, "method." + entry.first);
    for (const auto& entry : names.counters)
      state.counters[entry.first] = impl::read_one(f, "method." + entry.first);
  }
  m_method->set_state(state);
  for (const auto& [name, view] : m_method->arrays())
    impl::upload(m_space, view, impl::read_scalars<Scalar>(f, array_prefix + name), name, path);
  if (f.has("test_x") && m_evaluator) {
    auto x = make_images<Scalar, memory_space>("bilevel::trainer::test_x", m_test->image_shape());
    impl::upload(m_space, x, impl::read_scalars<Scalar>(f, "test_x"), "test_x", path);
    m_evaluator->set_reconstructions(x);
  }
  if (f.has("validation_x") && m_validator) {
    auto x = make_images<Scalar, memory_space>("bilevel::trainer::validation_x",
                                               m_validator->image_shape());
    impl::upload(m_space, x, impl::read_scalars<Scalar>(f, "validation_x"), "validation_x", path);
    m_validator->set_reconstructions(x);
  }
  m_best = BestModel{};
  if (f.has("best.step")) {
    m_best.step = impl::read_one(f, "best.step");
    m_best.psnr = impl::read_real(f, "best.validation_psnr");
    m_best.theta = impl::read_scalars<Scalar>(f, "best.theta");
    m_best.state = f.read_doubles("best.regularizer_state");
    require(m_best.theta.size() == std::size_t(m_reg.num_params()), "checkpoint '", path,
            "': 'best.theta' has ", m_best.theta.size(), " values, expected ", m_reg.num_params());
  }
}

}  // namespace bilevel
