// Filesystem helpers: crash-safe writes (temp + fsync + rename + fsync dir) and whole-file reads.
// Fails: throws std::system_error carrying the path and errno.
#pragma once
#include <optional>
#include <string>

namespace clawgate {

void atomic_write_file(const std::string& path, const std::string& data, unsigned mode = 0600);
std::optional<std::string> read_file(const std::string& path);  // nullopt if it does not exist
void make_dirs(const std::string& path, unsigned mode = 0700);

}  // namespace clawgate
