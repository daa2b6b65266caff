#pragma once
/// \file
/// A small HDF5 file wrapper for checkpoints: named datasets of doubles, floats and 64-bit
/// integers (with their shape) and string attributes on the root group. Errors become
/// bilevel::Error naming the file and the item; HDF5's own error printing is silenced. New
/// files are built in memory (HDF5's core driver) and written out by commit().

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bilevel::io {

class Hdf5File {
 public:
  enum class Mode { create, read };
  /// Opens a file for reading, or starts a new one for `path` in memory: nothing reaches the
  /// disk until commit(). Throws if it cannot, e.g. "not an HDF5 file".
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
  /// Mode::create: writes the finished file to its path through checked, fsynced writes and
  /// closes it (a full disk throws naming the path and the cause; HDF5 never writes the disk
  /// itself). A file destroyed without commit() writes nothing.
  void commit();

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
