#pragma once
/// \file
/// Trainer::save_checkpoint / load_checkpoint: the HDF5 layout (format "bilevel-checkpoint-1").
///   attributes: format, regularizer, scalar, algorithm, task, blocks ("name:offset:size;...")
///   datasets:   theta, adam_m, adam_v, warm_x, warm_q (the Scalar type, warm_* shaped N,C,H,W),
///               warm_x_seen, warm_q_seen, counters (k, cost, epoch, position, adam steps,
///               stalled), reals (eps, alpha, previous loss), shape (channels, parameters, N, C,
///               H, W), regularizer_state (doubles), bound_constants (|J|, L_H, L_J, set),
///               test_x (optional)
/// Readable from Python (h5py) and HPC tools (h5dump).

#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/hdf5_file.hpp>

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
inline std::vector<std::uint64_t> dims(const Shape& s) {
  return {std::uint64_t(s.n), std::uint64_t(s.c), std::uint64_t(s.h), std::uint64_t(s.w)};
}
}  // namespace impl

template <class Scalar, class ExecSpace>
void Trainer<Scalar, ExecSpace>::save_checkpoint(const std::string& path) const {
  const ProfilingRegion region("bilevel::trainer::checkpoint");
  const Shape ts = m_train.image_shape();
  io::write_atomically(path, [&](const std::string& temp) {
    io::Hdf5File f(temp, io::Hdf5File::Mode::create);
    f.write_attribute("format", "bilevel-checkpoint-1");
    f.write_attribute("regularizer", m_reg.name());
    f.write_attribute("scalar", sizeof(Scalar) == 4 ? "float" : "double");
    f.write_attribute("algorithm", algorithm_name(m_opt.algorithm));
    f.write_attribute("task", task_name(m_train.task().kind));
    f.write_attribute("blocks", impl::blocks_string(m_reg.blocks()));
    for (const auto& [key, value] : m_opt.checkpoint_attributes) f.write_attribute(key, value);
    f.write("shape", std::vector<std::int64_t>{m_reg.channels(), m_reg.num_params(), ts.n, ts.c,
                                               ts.h, ts.w});
    f.write("theta", impl::host_values(m_reg.params()));
    f.write("regularizer_state", m_reg.internal_state());
    f.write("adam_m", impl::host_values(m_adam.m));
    f.write("adam_v", impl::host_values(m_adam.v));
    f.write("warm_x", impl::host_values(m_x_cache.storage()), impl::dims(ts));
    f.write("warm_q", impl::host_values(m_q_cache.storage()), impl::dims(ts));
    const auto seen = [](const std::vector<char>& v) {
      return std::vector<std::int64_t>(v.begin(), v.end());
    };
    f.write("warm_x_seen", seen(m_x_cache.seen_flags()));
    f.write("warm_q_seen", seen(m_q_cache.seen_flags()));
    f.write("counters",
            std::vector<std::int64_t>{m_k, m_cost, m_sampler.epoch(), m_sampler.position(),
                                      m_adam.steps, m_stalled ? 1 : 0});
    f.write("reals", std::vector<double>{m_eps, m_alpha, m_prev_loss});
    f.write("bound_constants", m_hyper.constants());
    if (m_test_x.data() != nullptr)
      f.write("test_x", impl::host_values(m_test_x), impl::dims(shape_of(m_test_x)));
    return true;
  });
}

template <class Scalar, class ExecSpace>
void Trainer<Scalar, ExecSpace>::load_checkpoint(const std::string& path) {
  const ProfilingRegion region("bilevel::trainer::checkpoint");
  io::Hdf5File f(path, io::Hdf5File::Mode::read);
  auto expect = [&](const char* attr, const std::string& want) {
    const std::string got = f.has_attribute(attr) ? f.read_attribute(attr) : std::string("(none)");
    require(got == want, "checkpoint '", path, "' is for ", attr, " '", got, "', this run uses '",
            want, "'");
  };
  expect("format", "bilevel-checkpoint-1");
  expect("regularizer", m_reg.name());
  expect("scalar", sizeof(Scalar) == 4 ? "float" : "double");
  expect("blocks", impl::blocks_string(m_reg.blocks()));
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
  impl::upload(m_space, m_adam.m, impl::read_scalars<Scalar>(f, "adam_m"), "adam_m", path);
  impl::upload(m_space, m_adam.v, impl::read_scalars<Scalar>(f, "adam_v"), "adam_v", path);
  impl::upload(m_space, m_x_cache.storage(), impl::read_scalars<Scalar>(f, "warm_x"), "warm_x",
               path);
  impl::upload(m_space, m_q_cache.storage(), impl::read_scalars<Scalar>(f, "warm_q"), "warm_q",
               path);
  const auto flags = [](const std::vector<std::int64_t>& v) {
    return std::vector<char>(v.begin(), v.end());
  };
  m_x_cache.set_seen_flags(flags(f.read_ints("warm_x_seen")));
  m_q_cache.set_seen_flags(flags(f.read_ints("warm_q_seen")));
  const auto c = f.read_ints("counters");
  const auto r = f.read_doubles("reals");
  require(c.size() == 6 && r.size() == 3, "checkpoint '", path, "': corrupt counters");
  m_k = c[0], m_cost = c[1];
  m_sampler.restore(c[2], c[3]);
  m_adam.steps = c[4], m_stalled = c[5] != 0;
  m_eps = r[0], m_alpha = r[1], m_prev_loss = r[2];
  m_hyper.set_constants(f.read_doubles("bound_constants"));
  if (f.has("test_x") && m_test) {
    m_test_x = make_images<Scalar, memory_space>("bilevel::trainer::test_x", m_test->image_shape());
    impl::upload(m_space, m_test_x, impl::read_scalars<Scalar>(f, "test_x"), "test_x", path);
  }
}

}  // namespace bilevel
