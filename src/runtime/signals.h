// defines: the stop signals of batch schedulers. SIGTERM and SIGUSR1 (what Slurm sends before a
// time limit, e.g. with --signal=USR1@120) set a flag; long jobs poll it at step boundaries,
// write a checkpoint and exit cleanly. The decision is collective, since the signal may reach
// the ranks at different moments: train/run_control makes it, over the world.
#pragma once

namespace acerl {

void install_stop_signal_handlers();
bool stop_signal_received();  // this process

}  // namespace acerl
