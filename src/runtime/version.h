// defines: project_version, git_hash (generated at build time) and version_report, the text of
// `acerl --version`: acerl, commit, LibTorch, MPI, HDF5 and the GPU build options.
#pragma once

#include <string>

namespace acerl {

const char* project_version();
const char* git_hash();
std::string version_report();

}  // namespace acerl
