#pragma once
/// \file
/// Atomic file output: write to a temporary file beside the target, then rename over it, so a
/// reader (or a crash, or Ctrl-C) never sees a half-written file.

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

}  // namespace bilevel::io
