#pragma once
// The per-step CSV log of a training run: rewritten atomically after every step (it is small),
// so it is always whole, and trimmed to the checkpoint's step when a run resumes.

#include <algorithm>
#include <bilevel/io/atomic_file.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace bilevel::apps {

class CsvLog {
 public:
  CsvLog(std::string path, std::string header)
      : m_path(std::move(path)), m_header(std::move(header)) {}

  /// Keeps the rows of an existing log whose first field (the step) is below `k`. A log of an
  /// earlier version with fewer columns (its header a prefix of ours) keeps its rows, the new
  /// columns left empty.
  void resume(long k) {
    std::ifstream in(m_path);
    std::string line;
    if (!std::getline(in, line)) return;
    std::string pad;
    if (line != m_header) {
      if (m_header.rfind(line + ",", 0) != 0) return;  // no usable log: start afresh
      const std::string extra = m_header.substr(line.size());
      pad.assign(std::size_t(std::count(extra.begin(), extra.end(), ',')), ',');
    }
    while (std::getline(in, line)) {
      std::istringstream s(line);
      long step = -1;
      if (s >> step && step < k) m_rows.push_back(line + pad);
    }
  }

  void append(const std::string& row) {
    m_rows.push_back(row);
    std::string text = m_header + "\n";
    for (const auto& r : m_rows) text += r + "\n";
    io::write_text_atomically(m_path, text);
  }

 private:
  std::string m_path, m_header;
  std::vector<std::string> m_rows;
};

}  // namespace bilevel::apps
