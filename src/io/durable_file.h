// defines: the POSIX steps that make a finished file survive a crash or power loss: fsync of a
// file and of its directory, a checked rename, and a small text file replaced atomically.
// Checkpoints (io/checkpoint.cpp) publish through these. Every failure throws acerl::Error
// naming the path and the errno text (a full disk reads "No space left on device").
#pragma once

#include <string>

namespace acerl::io {

void fsync_file(const std::string& path);
void fsync_dir(const std::string& dir);
// rename(2) `from` -> `to`, then fsync of the directory of `to`.
void rename_durably(const std::string& from, const std::string& to);
// Writes `text` to `path`.tmp, fsyncs it and renames it over `path` (durably).
void replace_file_durably(const std::string& path, const std::string& text);

}  // namespace acerl::io
