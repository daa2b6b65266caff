#pragma once
/// \file
/// A small HDF5 file wrapper for checkpoints: named datasets of doubles, floats and 64-bit
/// integers (with their shape) and string attributes on the root group. Errors become
/// bilevel::Error naming the file and the item; HDF5's own error printing is silenced.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bilevel::io {

class Hdf5File {
 public:
  enum class Mode { create, read };
  /// Creates (truncating) or opens a file. Throws if it cannot, e.g. "not an HDF5 file".
  Hdf5File(const std::string& path, Mode mode);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  void write(const std::string& name, const std::vector<double>& data,
             const std::vector<std::uint64_t>& shape = {});
  void write(const std::string& name, const std::vector<float>& data,
             const std::vector<std::uint64_t>& shape = {});
  void write(const std::string& name, const std::vector<std::int64_t>& data);
  void write_attribute(const std::string& name, const std::string& value);

  bool has(const std::string& name) const;
  bool has_attribute(const std::string& name) const;
  std::vector<std::uint64_t> shape(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;
  std::vector<float> read_floats(const std::string& name) const;
  std::vector<std::int64_t> read_ints(const std::string& name) const;
  std::string read_attribute(const std::string& name) const;
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
  std::int64_t m_file = -1;  // hid_t
};

}  // namespace bilevel::io
