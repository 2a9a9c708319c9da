// acerl: the executable. All logic lives in acerl_core; this only enters the error boundary.
#include "cli/command.h"
#include "runtime/mpi_runtime.h"

int main(int argc, char** argv) { return acerl::run_main(argc, argv, acerl::cli::cli_main); }
