#include <unistd.h>

#include <bilevel/core/error.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace bilevel::io {

void write_atomically(const std::string& path,
                      const std::function<bool(const std::string&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  require(fs::is_directory(dir, ec), "cannot write '", path, "': folder '", dir.string(),
          "' does not exist");
  // Hidden, unique per process: concurrent writers of the same file never share a temp file.
  const fs::path temp =
      dir / ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()));
  bool ok = false;
  try {
    ok = write(temp.string());
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
  if (!ok) {
    fs::remove(temp, ec);
    throw Error(impl::concat("cannot write '", path, "': ", std::strerror(errno ? errno : EIO)));
  }
  if (std::rename(temp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    fs::remove(temp, ec);
    throw Error(impl::concat("cannot write '", path, "': ", std::strerror(err)));
  }
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    return bool(out);
  });
}

}  // namespace bilevel::io
