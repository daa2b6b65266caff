#pragma once
// Output folders and the files written into them: created only once all inputs have been read
// and checked (so a bad input leaves nothing behind), every file written atomically.

#include <bilevel/core/error.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/image.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace bilevel::apps {

/// Creates `folder` (and its parents), checks that it is a writable folder and removes the
/// temporary files of writers that were killed mid-write.
inline void make_output_folder(const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  require(!ec && std::filesystem::is_directory(folder), "cannot create output folder '", folder,
          "'", ec ? " (" + ec.message() + ")" : std::string());
  const std::string probe = folder + "/.bilevel-write-test";
  try {
    io::write_text_atomically(probe, "");
  } catch (const std::exception&) {
    throw Error("output folder '" + folder + "' is not writable");
  }
  std::filesystem::remove(probe, ec);
  io::remove_stale_temporaries(folder);
}

/// The files that make `folder` the record of a training run.
inline std::vector<std::string> run_files_in(const std::string& folder) {
  std::vector<std::string> found;
  for (const char* name : {"checkpoint.h5", "log.csv", "summary.json"})
    if (std::filesystem::exists(folder + "/" + name)) found.push_back(name);
  return found;
}

/// Refuses to start a run in a folder that holds another run's checkpoint, log or summary,
/// unless `overwrite`; resuming from the folder's own checkpoint continues that run.
inline void check_run_folder(const std::string& folder, const std::string& resume, bool overwrite) {
  const auto found = run_files_in(folder);
  if (found.empty() || overwrite) return;
  std::error_code ec;
  const std::string own = folder + "/checkpoint.h5";
  if (!resume.empty() && std::filesystem::equivalent(resume, own, ec)) return;
  std::string list;
  for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
  throw Error("output folder '" + folder + "' holds an earlier run (" + list +
              "): continue it with --resume " + own +
              (resume.empty() ? "" : " (not " + resume + ")") +
              ", or pass --overwrite to replace it");
}

/// Images side by side, separated by a white gap of `gap` pixels (all the same size).
inline io::HostImage side_by_side(const std::vector<const io::HostImage*>& parts, int gap = 4) {
  const io::HostImage& a = *parts.front();
  const int n = int(parts.size());
  io::HostImage out(a.c, a.h, n * a.w + (n - 1) * gap);
  std::fill(out.data.begin(), out.data.end(), 1.0f);
  for (int k = 0; k < n; ++k)
    for (int c = 0; c < a.c; ++c)
      for (int i = 0; i < a.h; ++i)
        for (int j = 0; j < a.w; ++j) out(c, i, k * (a.w + gap) + j) = (*parts[k])(c, i, j);
  return out;
}

}  // namespace bilevel::apps
