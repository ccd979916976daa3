// `gpool info`: what this installation is and how it is configured.
//
//   info_text()           version, the paths the tool resolves (paths.h), and every configuration
//                         variable of gpool/common/variables.h with its value in this environment.
//   variables_markdown()  the "Environment variables" tables of docs/operations.md, generated
//                         from the same table (scripts/gen-variables.sh writes them into the doc;
//                         the ctest docs.variables_current checks the doc is current).
// Thread safety: reads the environment; call from the main thread.
#pragma once

#include <string>

namespace gpool::tools {

std::string info_text();
std::string variables_markdown();

}  // namespace gpool::tools
