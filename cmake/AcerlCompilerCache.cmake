# ccache as compiler launcher when present. With a precompiled header, ccache must be told
# to trust the PCH (sloppiness) and to ignore the checkout's absolute path (base_dir), so a
# fresh clone in another directory still hits the cache CI and earlier builds filled.
find_program(ACERL_CCACHE ccache)
if(ACERL_CCACHE)
  set(_acerl_ccache_env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      "CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}" "CCACHE_NOHASHDIR=1")
  set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env ${_acerl_ccache_env} ${ACERL_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env ${_acerl_ccache_env} ${ACERL_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${ACERL_CCACHE})
  message(STATUS "acerl: compiling through ccache (${ACERL_CCACHE})")
endif()
