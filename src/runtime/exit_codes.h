// defines: the exit codes every acerl command ends with -- the contract job chains rely on
// (Slurm `afterok`, requeue scripts; README "Failure behaviour").
#pragma once

namespace acerl {

constexpr int kExitFinished = 0;  // the command did all it was asked
constexpr int kExitFailure = 1;   // a fault: a bug, a broken node, a diverging run
constexpr int kExitBadInput = 2;  // bad config, data, model or checkpoint: fix the input
constexpr int kExitStopped = 75;  // stopped on a signal or run.deadline, checkpoint written: resume

}  // namespace acerl
