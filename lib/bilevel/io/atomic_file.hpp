#pragma once
/// \file
/// Atomic file output: write to a temporary file beside the target, then rename over it, so a
/// reader (or a crash, or Ctrl-C) never sees a half-written file.

#include <cstddef>
#include <functional>
#include <string>

namespace bilevel::io {

/// \brief Calls `write(temp_path)` and renames the temporary file to `path` on success. Throws
/// bilevel::Error naming `path` if the folder is not writable, `write` fails or returns false, or
/// the rename fails; the temporary file is removed in every failing case.
void write_atomically(const std::string& path,
                      const std::function<bool(const std::string&)>& write);

/// \brief Writes `text` to `path` atomically.
void write_text_atomically(const std::string& path, const std::string& text);

/// \brief Writes `size` bytes to the new file `path` and makes them durable (fsync), checking
/// every call: a full disk or an I/O error throws bilevel::Error naming `path` and the cause
/// (the partial file is left for the caller, normally write_atomically, to remove).
void write_bytes(const std::string& path, const void* data, std::size_t size);

/// \brief Removes the temporary files that write_atomically left in `folder` when its process
/// was killed mid-write (SIGKILL, a second Ctrl-C): `.NAME.tmpPID` whose PID no longer runs.
/// A writer that is still alive keeps its file. Returns how many were removed.
int remove_stale_temporaries(const std::string& folder);

}  // namespace bilevel::io
