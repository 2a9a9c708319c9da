// defines: the stop signals of batch schedulers. SIGTERM and SIGUSR1 (what Slurm sends before a
// time limit, e.g. with --signal=USR1@120) set a flag; long jobs poll it at step boundaries,
// write a checkpoint and exit cleanly. The decision is collective, since the signal may reach
// the ranks at different moments.
#pragma once

#include "parallel/communicator.h"

namespace acerl {

void install_stop_signal_handlers();
bool stop_signal_received();  // this process
// True on every rank when any rank received a stop signal (an all-reduce: call it on all ranks).
bool stop_requested(parallel::Communicator& world);

}  // namespace acerl
