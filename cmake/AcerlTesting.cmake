# Test registration helpers. The tests live in one executable (acerl_tests, Catch2 v2), the GPU
# cases in a second small one (acerl_gpu_tests); a CTest test is one Catch tag expression run
# either directly or under mpiexec.
#
#   acerl_add_test(name FILTER "[tag]" [LABELS unit slow] [TIMEOUT s] [EXECUTABLE target])
#   acerl_add_mpi_test(name NP FILTER "[tag]" [LABELS ...] [TIMEOUT s])
#
# Open MPI refuses root and more ranks than cores unless told; the flags are added when the
# launcher is Open MPI. Ranks are not bound to cores (tests oversubscribe 2-core machines).

execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _acerl_mpiexec_version
                ERROR_QUIET)
set(ACERL_MPIEXEC_FLAGS "" CACHE STRING "Extra flags of mpiexec in tests")
if(_acerl_mpiexec_version MATCHES "Open MPI|OpenRTE" AND NOT ACERL_MPIEXEC_FLAGS)
  set(ACERL_MPIEXEC_FLAGS --allow-run-as-root --oversubscribe --bind-to none CACHE STRING "" FORCE)
endif()

function(acerl_add_test name)
  cmake_parse_arguments(T "" "FILTER;TIMEOUT;EXECUTABLE" "LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_EXECUTABLE)
    set(T_EXECUTABLE acerl_tests)
  endif()
  add_test(NAME ${name} COMMAND ${T_EXECUTABLE} "${T_FILTER}")
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "OMP_NUM_THREADS=1;ASAN_OPTIONS=detect_leaks=0;UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
endfunction()

function(acerl_add_mpi_test name np)
  cmake_parse_arguments(T "" "FILTER;TIMEOUT" "LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name}
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${ACERL_MPIEXEC_FLAGS}
                   ${MPIEXEC_PREFLAGS} $<TARGET_FILE:acerl_tests> "${T_FILTER}" ${MPIEXEC_POSTFLAGS})
  set_tests_properties(${name} PROPERTIES LABELS "mpi;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       PROCESSORS ${np}
                       ENVIRONMENT "OMP_NUM_THREADS=1;ASAN_OPTIONS=detect_leaks=0;UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
endfunction()
