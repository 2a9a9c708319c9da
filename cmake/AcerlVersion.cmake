# Generates version_info.cpp (project version + git hash) at every build, rewriting it only when
# the hash changes, so `acerl --version` names the commit without forcing rebuilds.
set(ACERL_VERSION_CPP "${CMAKE_BINARY_DIR}/generated/version_info.cpp")
set(_acerl_version_args
    -DACERL_SOURCE_DIR=${CMAKE_SOURCE_DIR} -DACERL_OUT=${ACERL_VERSION_CPP}
    -DACERL_VERSION=${PROJECT_VERSION} -P ${CMAKE_CURRENT_LIST_DIR}/AcerlWriteVersion.cmake)
execute_process(COMMAND ${CMAKE_COMMAND} ${_acerl_version_args})
add_custom_target(acerl_version_info
  COMMAND ${CMAKE_COMMAND} ${_acerl_version_args}
  BYPRODUCTS "${ACERL_VERSION_CPP}"
  COMMENT "" VERBATIM)
