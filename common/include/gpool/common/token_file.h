// Reading a secret token from a file (--token-file, token_file =, GPOOL_TOKEN_FILE), so that a
// token never has to appear on a command line (visible to every user in `ps`).
//
// The file holds the token on its first line; a trailing newline (and \r) is dropped, and
// nothing else may follow except blank lines. A file that other users may read (any of the
// "group" or "other" permission bits set) still works, but `warning` says so, naming the path
// and the fix (chmod 600), for the caller to log.
//
// Thread safety: plain function. Errors: false with `error` naming the path and what is wrong
// (cannot open, not a regular file, empty, more than one line, longer than 4 KiB).
#pragma once

#include <string>

namespace gpool::token_file {

bool read(const std::string& path, std::string& token, std::string& error, std::string& warning);

}  // namespace gpool::token_file
