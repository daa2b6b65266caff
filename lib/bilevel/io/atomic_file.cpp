#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <bilevel/core/error.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace bilevel::io {

namespace {
constexpr const char* kTempTag = ".tmp";

// Hidden, unique per process: concurrent writers of the same file never share a temp file.
std::string temporary_name(const std::string& filename) {
  return "." + filename + kTempTag + std::to_string(::getpid());
}

// The writer's PID if `filename` is one of temporary_name's, else 0.
long writer_of(const std::string& filename) {
  const auto tag = filename.rfind(kTempTag);
  if (filename.size() < 2 || filename[0] != '.' || tag == std::string::npos || tag < 2) return 0;
  const std::string digits = filename.substr(tag + std::strlen(kTempTag));
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stol(digits);
}
}  // namespace

int remove_stale_temporaries(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const long pid = writer_of(it->path().filename().string());
    if (pid <= 0 || !it->is_regular_file(ec)) continue;
    // ESRCH: no such process. EPERM means it runs under another user: keep its file.
    if (::kill(pid_t(pid), 0) != 0 && errno == ESRCH && fs::remove(it->path(), ec)) ++removed;
  }
  return removed;
}

void write_atomically(const std::string& path,
                      const std::function<bool(const std::string&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  require(fs::is_directory(dir, ec), "cannot write '", path, "': folder '", dir.string(),
          "' does not exist");
  const fs::path temp = dir / temporary_name(target.filename().string());
  bool ok = false;
  try {
    ok = write(temp.string());
  } catch (const Error& e) {  // name the file the user asked for, not the temporary
    fs::remove(temp, ec);
    std::string message = e.what();
    for (auto at = message.find(temp.string()); at != std::string::npos;
         at = message.find(temp.string(), at + path.size()))
      message.replace(at, temp.string().size(), path);
    throw Error(message);
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

void write_bytes(const std::string& path, const void* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  require(fd >= 0, "cannot write '", path, "': ", std::strerror(errno));
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  int err = 0;
  while (left > 0 && err == 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    p += n, left -= std::size_t(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;  // delayed allocation errors surface here
  if (::close(fd) != 0 && err == 0) err = errno;
  require(err == 0, "cannot write '", path, "': ", std::strerror(err));
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& temp) {
    write_bytes(temp, text.data(), text.size());
    return true;
  });
}

}  // namespace bilevel::io
