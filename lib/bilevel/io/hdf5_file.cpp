#include <hdf5.h>

#include <bilevel/core/error.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/hdf5_file.hpp>
#include <numeric>

namespace bilevel::io {

namespace {
struct Closer {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Closer() {
    if (id >= 0) close(id);
  }
};

template <class T>
hid_t native();
template <>
hid_t native<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t native<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native<std::int64_t>() {
  return H5T_NATIVE_INT64;
}

template <class T>
void write_dataset(hid_t file, const std::string& path, const std::string& name,
                   const std::vector<T>& data, std::vector<std::uint64_t> shape) {
  if (shape.empty()) shape = {std::uint64_t(data.size())};
  const std::uint64_t n =
      std::accumulate(shape.begin(), shape.end(), std::uint64_t(1), std::multiplies<>());
  require(n == data.size(), "checkpoint '", path, "': dataset '", name, "' has ", data.size(),
          " values for a shape of ", n);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Closer space{H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose};
  Closer set{
      H5Dcreate2(file, name.c_str(), native<T>(), space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose};
  require(
      set.id >= 0 && H5Dwrite(set.id, native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0,
      "cannot write '", path, "': dataset '", name, "'");
}

template <class T>
std::vector<T> read_dataset(hid_t file, const std::string& path, const std::string& name) {
  Closer set{H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose};
  require(set.id >= 0, "checkpoint '", path, "' has no dataset '", name, "'");
  Closer space{H5Dget_space(set.id), H5Sclose};
  const hssize_t n = H5Sget_simple_extent_npoints(space.id);
  std::vector<T> out(std::size_t(n < 0 ? 0 : n));
  require(n >= 0 && H5Dread(set.id, native<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
          "cannot read checkpoint '", path, "': dataset '", name, "' is unreadable");
  return out;
}
}  // namespace

Hdf5File::Hdf5File(const std::string& path, Mode mode) : m_path(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported as bilevel::Error
  if (mode == Mode::create) {
    // In memory, no backing store: the bytes reach the disk only through commit()'s checked
    // writes, so a full disk can neither cut a file HDF5 thinks is written nor leave HDF5
    // holding a half-closed file.
    Closer fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
    require(fapl.id >= 0 && H5Pset_fapl_core(fapl.id, 1 << 20, 0) >= 0, "cannot create '", path,
            "': HDF5 core driver unavailable");
    m_file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id);
    require(m_file >= 0, "cannot create checkpoint '", path, "'");
  } else {
#if H5_VERSION_GE(1, 12, 0)
    const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
    const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
    require(is_hdf5 > 0, "cannot read checkpoint '", path, "': missing or not an HDF5 file");
    m_file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    require(m_file >= 0, "cannot read checkpoint '", path, "': not a readable HDF5 file");
  }
}

Hdf5File::~Hdf5File() {
  if (m_file >= 0) H5Fclose(hid_t(m_file));
}

void Hdf5File::commit() {
  require(m_file >= 0, "cannot write '", m_path, "': the file is already closed");
  const hid_t file = hid_t(m_file);
  require(H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0, "cannot write '", m_path, "': HDF5 flush failed");
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  require(size > 0, "cannot write '", m_path, "': no HDF5 file image");
  std::vector<unsigned char> image(static_cast<std::size_t>(size));
  require(H5Fget_file_image(file, image.data(), image.size()) == size, "cannot write '", m_path,
          "': HDF5 file image incomplete");
  m_file = -1;
  require(H5Fclose(file) >= 0, "cannot write '", m_path, "': HDF5 close failed");
  write_bytes(m_path, image.data(), image.size());
}

void Hdf5File::write(const std::string& name, const std::vector<double>& d,
                     const std::vector<std::uint64_t>& s) {
  write_dataset(hid_t(m_file), m_path, name, d, s);
}
void Hdf5File::write(const std::string& name, const std::vector<float>& d,
                     const std::vector<std::uint64_t>& s) {
  write_dataset(hid_t(m_file), m_path, name, d, s);
}
void Hdf5File::write(const std::string& name, const std::vector<std::int64_t>& d) {
  write_dataset(hid_t(m_file), m_path, name, d, {});
}

void Hdf5File::write_attribute(const std::string& name, const std::string& value) {
  Closer type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, value.size() + 1);
  Closer space{H5Screate(H5S_SCALAR), H5Sclose};
  Closer attr{H5Acreate2(hid_t(m_file), name.c_str(), type.id, space.id, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose};
  require(attr.id >= 0 && H5Awrite(attr.id, type.id, value.c_str()) >= 0, "cannot write '", m_path,
          "': attribute '", name, "'");
}

bool Hdf5File::has(const std::string& name) const {
  return H5Lexists(hid_t(m_file), name.c_str(), H5P_DEFAULT) > 0;
}

bool Hdf5File::has_attribute(const std::string& name) const {
  return H5Aexists(hid_t(m_file), name.c_str()) > 0;
}

std::vector<std::uint64_t> Hdf5File::shape(const std::string& name) const {
  Closer set{H5Dopen2(hid_t(m_file), name.c_str(), H5P_DEFAULT), H5Dclose};
  require(set.id >= 0, "checkpoint '", m_path, "' has no dataset '", name, "'");
  Closer space{H5Dget_space(set.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(std::size_t(rank > 0 ? rank : 0));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return std::vector<std::uint64_t>(dims.begin(), dims.end());
}

std::vector<double> Hdf5File::read_doubles(const std::string& name) const {
  return read_dataset<double>(hid_t(m_file), m_path, name);
}
std::vector<float> Hdf5File::read_floats(const std::string& name) const {
  return read_dataset<float>(hid_t(m_file), m_path, name);
}
std::vector<std::int64_t> Hdf5File::read_ints(const std::string& name) const {
  return read_dataset<std::int64_t>(hid_t(m_file), m_path, name);
}

std::string Hdf5File::read_attribute(const std::string& name) const {
  Closer attr{H5Aopen(hid_t(m_file), name.c_str(), H5P_DEFAULT), H5Aclose};
  require(attr.id >= 0, "checkpoint '", m_path, "' has no attribute '", name, "'");
  Closer type{H5Aget_type(attr.id), H5Tclose};
  std::string out(H5Tget_size(type.id), '\0');
  require(H5Aread(attr.id, type.id, out.data()) >= 0, "cannot read checkpoint '", m_path,
          "': attribute '", name, "'");
  out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
  return out;
}

}  // namespace bilevel::io
