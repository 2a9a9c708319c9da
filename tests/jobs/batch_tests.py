"""The batch scripts of jobs/ against a real Slurm (tools/slurm_local.sh) and its PBS commands
(slurm-wlm-torque), the modulefiles against environment-modules and Lua, and the Spack package
against the CMake options. One CTest entry per case:

  batch_tests.py CASE --build BUILD_DIR

Cases: slurm_sft, slurm_requeue, slurm_chain, pbs, modules, spack_package. Exit 0 = passed,
1 = failed (each failed check printed), 77 = skipped (printed with the reason; only when
ACERL_TEST_NO_SLURM=1 says that this machine cannot run Slurm).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from checks import check, finish

ROOT = Path(__file__).resolve().parents[2]
SKIP = 77


def sh(cmd, timeout=600, env=None, cwd=ROOT, check_rc=True):
    """Runs a shell command; returns (rc, stdout + stderr)."""
    p = subprocess.run(cmd, shell=True, cwd=cwd, env=env, timeout=timeout, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, executable="/bin/bash")
    if check_rc and p.returncode != 0:
        print(f"command failed ({p.returncode}): {cmd}\n{p.stdout}", flush=True)
    return p.returncode, p.stdout


def slurm_up():
    rc, _ = sh("sinfo -h -o %t | grep -Eq 'idle|mix|alloc'", check_rc=False)
    return rc == 0


def require_slurm():
    if slurm_up():
        return
    if os.environ.get("ACERL_TEST_NO_SLURM") == "1":
        print("SKIPPED: Slurm is not running and ACERL_TEST_NO_SLURM=1 says it cannot run here")
        sys.exit(SKIP)
    print("FAILED: Slurm is not running: start it with tools/slurm_local.sh start "
          "(jobs/local/test.sh does), or set ACERL_TEST_NO_SLURM=1 to skip")
    sys.exit(1)


def job_field(job, field):
    """A field of `scontrol show job -o` (JobState, ExitCode, Restarts, StartTime, EndTime)."""
    rc, out = sh(f"scontrol show job -o {job}", check_rc=False)
    m = re.search(rf"\b{field}=(\S*)", out) if rc == 0 else None
    return m.group(1) if m else ""


def wait_job(job, timeout=600):
    """Waits until the job reached a final state (a requeued job is pending, not final)."""
    end = time.time() + timeout
    unknown = 0
    while time.time() < end:
        state = job_field(job, "JobState")
        unknown = unknown + 1 if state == "" else 0
        if unknown >= 5:
            return "UNKNOWN"  # Slurm no longer knows the job (its record aged out)
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            return state
        time.sleep(1)
    return "TIMEOUT_IN_TEST"


def wait_for_text(path, pattern, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        if path.exists() and re.search(pattern, path.read_text(errors="replace")):
            return True
        time.sleep(0.2)
    return False


def column(trace, phase, name):
    with h5py.File(trace, "r") as f:
        return f[phase][name][...]


class Env:
    """A scratch directory with the synthetic task, and the environment for the job scripts."""

    def __init__(self, build, name):
        self.build = Path(build).resolve()
        self.dir = self.build / "test-tmp" / "jobs" / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.acerl = self.build / "acerl"
        self.env = dict(os.environ, ACERL_BIN=str(self.acerl), OMP_NUM_THREADS="1")
        self.env.pop("ACERL_JOBS", None)  # the checkout's jobs/, not an installed module's
        rc, out = sh(f"OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 {self.acerl} data "
                     f"synth --output {self.dir}/data --sft-prompts 200 --rl-prompts 64 "
                     f"--eval-prompts 32", env=self.env)
        assert rc == 0, out
        self.data = self.dir / "data"

    def sft_args(self, run, steps, extra=""):
        return (f"inputs/quickstart/quickstart.ini --run.dir={self.dir}/{run} "
                f"--data.path={self.data}/sft.jsonl --sft.max_steps={steps} --log.interval=1 "
                f"{extra}")

    def sbatch(self, args, timeout=600):
        rc, out = sh(f"sbatch --parsable {args}", env=self.env, timeout=timeout)
        assert rc == 0, out
        return out.strip().split(";")[0].splitlines()[-1]

    def tiny_recipe(self, run_dir, rl_args=""):
        """Two RL stages of 2 steps on a 12-step SFT model; returns the recipe file."""
        ini = self.dir / "recipe.ini"
        ini.write_text(f"""[run]
seed = 7
[model]
init = inputs/quickstart/model.json
precision = fp32
[tokenizer]
path = inputs/quickstart/tokenizer.json
[chat]
use_system = false
[sft]
seq_len = 512
global_batch = 8
max_steps = 12
lr = 1e-3
[rollout]
max_new_tokens = 32
[rl]
prompts_per_step = 4
group_size = 4
lr = 2e-4
[stage.a]
data = {self.data}/rl.jsonl
steps = 2
[stage.b]    # a comment after the header
data = {self.data}/rl.jsonl
steps = 2
[eval]
k = 2
max_new_tokens = 32
[tune]
prompts = 8
samples = 2
""")
        recipe = self.dir / (Path(run_dir).name + ".env")
        recipe.write_text(f"""RUN_DIR={run_dir}
CONFIG={ini}
SFT_DATA={self.data}/sft.jsonl
TUNE_DATA={self.data}/rl.jsonl
EVAL_FILES={self.data}/eval.jsonl
RL_ARGS="{rl_args}"
""")
        return recipe


def case_slurm_sft(build):
    require_slurm()
    e = Env(build, "slurm_sft")
    rc, out = sh(f"sbatch --wait -o {e.dir}/sft.out jobs/slurm/sft.sbatch "
                 + e.sft_args("sft", 12, "--checkpoint.interval=5"), env=e.env)
    check(rc == 0, f"sbatch --wait jobs/slurm/sft.sbatch exits 0 (got {rc})")
    log = (e.dir / "sft.out").read_text()
    check("srun --mpi=pmix" in log, "the job launched acerl with srun --mpi=pmix")
    check("layout tp=1 pp=1 dp=2" in log, "acerl ran on the job's 2 tasks (dp = 2)")
    latest = (e.dir / "sft/checkpoints/latest").read_text().strip()
    check(latest == "step_00000012.h5", f"latest names the final checkpoint ({latest})")
    with h5py.File(e.dir / "sft/checkpoints" / latest, "r") as f:
        check("model" in f and len(f["model"]) > 0, "the checkpoint holds the model's tensors")
    loss = column(e.dir / "sft/trace.h5", "sft", "loss")
    check(len(loss) == 12 and np.all(np.isfinite(loss)), f"the trace has 12 finite losses ({loss})")
    # A bad input exits 2 through srun and the job (afterok chains see the failure).
    rc, _ = sh(f"sbatch --wait -o {e.dir}/bad.out jobs/slurm/sft.sbatch "
               + e.sft_args("bad", 12, "--sft.lr=-1"), env=e.env, check_rc=False)
    check(rc == 2, f"a bad key makes the job exit 2 (got {rc})")


def case_slurm_requeue(build):
    require_slurm()
    e = Env(build, "slurm_requeue")
    steps = 40
    rc, _ = sh(f"sbatch --wait -o {e.dir}/whole.out jobs/slurm/sft.sbatch "
               + e.sft_args("whole", steps, "--checkpoint.interval=0"), env=e.env)
    check(rc == 0, "the uninterrupted run finished")
    out = e.dir / "part.out"
    job = e.sbatch(f"-o {out} jobs/slurm/sft.sbatch "
                   + e.sft_args("part", steps, "--checkpoint.interval=0"))
    # A job that must start only after the SFT job really finished (requeue included).
    stamp = e.dir / "dependent.stamp"
    dep = e.sbatch(f"-n 1 -o {e.dir}/dep.out --dependency=afterok:{job} --kill-on-invalid-dep=yes "
                   f"--wrap 'date +%s.%N > {stamp}'")
    check(wait_for_text(out, r"sft step 8/"), "the job reached step 8")
    sh(f"scancel --signal=USR1 {job}")  # what Slurm's --signal=USR1@300 sends before the limit
    state = wait_job(job)
    check(state == "COMPLETED", f"the job ends COMPLETED after its requeue (state {state})")
    check(job_field(job, "Restarts") == "1", f"Slurm counted one restart ({job_field(job, 'Restarts')})")
    log = out.read_text()
    check("acerl sft exited 75" in log, "the signalled run exited 75")
    check(f"requeueing job {job} (restart 1)" in log, "the job requeued itself")
    # The step the signal lands on depends on the machine's load: read it from the stop's line.
    stopped = re.search(r"sft: stopping at step (\d+) .*; checkpoint (\S+);", log)
    resumed = re.search(r"resumed from (\S+) at step (\d+)", log)
    check(stopped is not None and resumed is not None
          and (resumed[1], resumed[2]) == (stopped[2], stopped[1]),
          f"the requeued run resumed from the checkpoint of the stop (stop "
          f"{stopped and stopped.groups()}, resume {resumed and resumed.groups()})")
    a = column(e.dir / "whole/trace.h5", "sft", "loss")
    b = column(e.dir / "part/trace.h5", "sft", "loss")
    check(len(a) == steps and np.array_equal(a, b),
          f"losses of the requeued run equal the uninterrupted run's bit for bit (last "
          f"{a[-1]!r} vs {b[-1]!r})")
    dep_state = wait_job(dep, 120)
    check(dep_state == "COMPLETED", f"the afterok dependent ran ({dep_state})")
    final = e.dir / "part/checkpoints" / f"step_{steps:08d}.h5"
    if check(stamp.exists() and final.exists(), "the dependent and the final checkpoint exist"):
        check(float(stamp.read_text()) >= final.stat().st_mtime,
              "the dependent started only after the requeued job wrote its final checkpoint")


def wait_chain(run_dir, stages, timeout=600):
    """Waits for every stage's job of a chain to reach a final state; returns {stage: state}."""
    states = {}
    for s in stages:
        f = Path(run_dir) / "chain" / f"{s}.jobid"
        states[s] = wait_job(f.read_text().strip(), timeout) if f.exists() else "not submitted"
    return states


def case_slurm_chain(build):
    require_slurm()
    e = Env(build, "slurm_chain")
    stages = ["sft", "tune", "rl-a", "rl-b", "eval"]
    run = e.dir / "ok"
    recipe = e.tiny_recipe(run)
    rc, out = sh(f"jobs/slurm/recipe.sh {recipe}", env=e.env)
    print(out)
    check(rc == 0 and all(re.search(rf"^{s}: job \d+", out, re.M) for s in stages),
          "recipe.sh printed a job id per stage")
    check(re.search(r"^rl-b: job \d+ \(after \d+\)", out, re.M) is not None,
          "each stage waits for the one before it")
    states = wait_chain(run, stages)
    check(all(v == "COMPLETED" for v in states.values()), f"every stage completed: {states}")
    check(all((run / "chain" / f"{s}.done").exists() for s in stages), "a .done file per stage")
    stage_col = column(run / "rl/trace.h5", "rl", "stage")
    check(stage_col.tolist() == [0, 0, 1, 1], f"the two RL stage jobs made one trace ({stage_col})")
    tuned = json.loads((run / "tune/tune_temperature.json").read_text())["temperature"]
    temps = column(run / "rl/trace.h5", "rl", "temperature")
    check(np.allclose(temps, tuned), f"RL ran at the tuned temperature {tuned} ({temps})")
    report = json.loads((run / "eval/eval.json").read_text())
    check(report["model"].endswith("rl/checkpoints/step_00000004.h5"),
          f"eval evaluated the last RL checkpoint ({report['model']})")
    # The post-run report: a picture per phase and the summary, from the traces alone.
    rc, out = sh(f"{sys.executable} tools/report.py {run}")
    check(rc == 0, "tools/report.py runs on the chain's run directory")
    for png in ("sft_sft.png", "rl_rl.png"):
        f = run / "report" / png
        check(f.exists() and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 20000,
              f"report/{png} is a PNG with content")
    summary = (run / "report/summary.txt").read_text() if (run / "report/summary.txt").exists() else ""
    sft_loss = column(run / "sft/trace.h5", "sft", "loss")
    check(f"sft: sft, 12 steps (last 12), loss {sft_loss[0]:.4f} -> {sft_loss[-1]:.4f}" in summary
          and "rl: rl, 4 steps (last 4), 2 stage(s)" in summary and "avg@2" in summary,
          f"the summary has the SFT losses, the RL steps and stages, the eval:\n{summary}")
    # Re-running submits nothing.
    rc, out = sh(f"jobs/slurm/recipe.sh {recipe}", env=e.env)
    check(rc == 0 and all(re.search(rf"^{s}: done", out, re.M) for s in stages),
          "a re-run skips every finished stage")

    # A failing stage cancels the stages after it; a re-run after the fix finishes the chain.
    bad = e.dir / "bad"
    recipe = e.tiny_recipe(bad, rl_args="--rl.lr=-1")
    rc, out = sh(f"jobs/slurm/recipe.sh {recipe}", env=e.env)
    states = wait_chain(bad, stages)
    check(states["sft"] == states["tune"] == "COMPLETED", f"the stages before the bad one ran: {states}")
    check(states["rl-a"] == "FAILED" and job_field(
        (bad / "chain/rl-a.jobid").read_text().strip(), "ExitCode") == "2:0",
        "the bad RL stage failed with exit 2")
    check(states["rl-b"] == states["eval"] == "CANCELLED",
          f"its dependents were cancelled, not left pending: {states}")
    check(not (bad / "eval").exists(), "eval never ran")
    recipe = e.tiny_recipe(bad)
    rc, out = sh(f"jobs/slurm/recipe.sh {recipe}", env=e.env)
    print(out)
    check(re.search(r"^sft: done", out, re.M) and re.search(r"^tune: done", out, re.M)
          and re.search(r"^rl-a: job \d+$", out, re.M), "the re-run skips sft and tune")
    states = wait_chain(bad, stages)
    check(all(v == "COMPLETED" for v in states.values()), f"the re-run completes the chain: {states}")


def qsub(e, args):
    rc, out = sh(f"qsub {args}", env=e.env)
    assert rc == 0, out
    return out.strip().splitlines()[-1]


def case_pbs(build):
    require_slurm()
    e = Env(build, "pbs")
    sh(f"sbatch --wait -o {e.dir}/slurm.out jobs/slurm/sft.sbatch " + e.sft_args("slurm", 12),
       env=e.env)
    env = dict(e.env, ACERL_CONFIG="inputs/quickstart/quickstart.ini",
               ACERL_ARGS=f"--run.dir={e.dir}/pbs --data.path={e.data}/sft.jsonl "
                          f"--sft.max_steps=12 --log.interval=1")
    rc, out = sh(f"qsub -V -j oe -o {e.dir}/pbs.out jobs/pbs/sft.pbs", env=env)
    job = out.strip().splitlines()[-1]
    check(rc == 0 and wait_job(job) == "COMPLETED", "qsub jobs/pbs/sft.pbs completed")
    log = (e.dir / "pbs.out").read_text()
    check(re.search(r"mpiexec -n 2 --hostfile \S+", log) is not None,
          "the PBS job launched mpiexec with a node file of 2 slots")
    a = column(e.dir / "slurm/trace.h5", "sft", "loss")
    b = column(e.dir / "pbs/trace.h5", "sft", "loss")
    check(len(a) == 12 and np.array_equal(a, b), "the PBS job's losses equal the Slurm job's")

    # Exit 75 under PBS: the job submits itself again and the run finishes.
    env["ACERL_ARGS"] = (f"--run.dir={e.dir}/resub --data.path={e.data}/sft.jsonl "
                         f"--sft.max_steps=40 --log.interval=1 --checkpoint.interval=0")
    env["ACERL_JOBID_FILE"] = str(e.dir / "resub.jobid")
    env["ACERL_PBS_OUT"] = str(e.dir / "resub.out")
    rc, out = sh(f"qsub -V -j oe -o {e.dir}/resub.out jobs/pbs/sft.pbs", env=env)
    job = out.strip().splitlines()[-1]
    check(wait_for_text(e.dir / "resub.out", r"sft step 8/"), "the PBS job reached step 8")
    # PBS signals the job's shell (qsig); the script forwards the signal to the ranks.
    sh(f"scancel --batch --signal=USR1 {job}")
    wait_job(job)
    check(wait_for_text(e.dir / "resub.jobid", r"\d", 60), "the stopped job resubmitted itself")
    job2 = (e.dir / "resub.jobid").read_text().strip()
    check(job2 != job and wait_job(job2) == "COMPLETED", f"the resubmitted job {job2} completed")
    restart_log = Path(str(e.dir / "resub.out") + ".restart1")
    check(restart_log.exists() and "restart 1" in restart_log.read_text(),
          "the resubmission logged to its own file as restart 1")
    sh(f"sbatch --wait -o {e.dir}/whole40.out jobs/slurm/sft.sbatch "
       + e.sft_args("whole40", 40, "--checkpoint.interval=0"), env=e.env)
    c = column(e.dir / "resub/trace.h5", "sft", "loss")
    check(len(c) == 40 and np.array_equal(c, column(e.dir / "whole40/trace.h5", "sft", "loss")),
          "the resubmitted run's 40 losses equal an uninterrupted run's")

    # The PBS chain (jobs submit the next stage) gives the Slurm chain's results.
    run = e.dir / "chain"
    recipe = e.tiny_recipe(run)
    rc, out = sh(f"jobs/pbs/recipe.sh {recipe}", env=e.env)
    check(rc == 0 and re.search(r"^sft: job \d+", out, re.M) is not None, "pbs/recipe.sh submitted sft")
    stages = ["sft", "tune", "rl-a", "rl-b", "eval"]
    end = time.time() + 600
    while time.time() < end and not (run / "chain/eval.done").exists():
        failed = [s for s in stages if (run / "chain" / f"{s}.jobid").exists() and job_field(
            (run / "chain" / f"{s}.jobid").read_text().strip(), "JobState") == "FAILED"]
        if failed:
            break
        time.sleep(1)
    check(all((run / "chain" / f"{s}.done").exists() for s in stages), "every PBS chain stage finished")
    check(column(run / "rl/trace.h5", "rl", "stage").tolist() == [0, 0, 1, 1],
          "the PBS chain ran both RL stages")
    rc, out = sh(f"jobs/pbs/recipe.sh {recipe}", env=e.env)
    check("every stage is done" in out, "a re-run of pbs/recipe.sh submits nothing")


def case_modules(build):
    """cmake --install, then environment-modules loads and unloads the Tcl modulefile; Lua
    evaluates the Lmod one."""
    build = Path(build).resolve()
    prefix = build / "test-tmp" / "jobs" / "install"
    shutil.rmtree(prefix, ignore_errors=True)
    rc, out = sh(f"cmake --install {build} --prefix {prefix}")
    check(rc == 0, "cmake --install to a scratch prefix")
    version_dirs = list((prefix / "share/modulefiles/acerl").glob("*"))
    check(len(version_dirs) == 2, f"a Tcl and a Lua modulefile ({[p.name for p in version_dirs]})")
    init = next((p for p in ["/usr/share/modules/init/bash", "/etc/profile.d/modules.sh"]
                 if Path(p).exists()), None)
    if not check(init is not None, "environment-modules is installed (tools/setup.sh installs it)"):
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACERL")}
    env["PATH"] = "/usr/bin:/bin"
    rc, out = sh(f". {init}; module use {prefix}/share/modulefiles; before=$PATH; "
                 f"module load acerl; echo \"bin=$(command -v acerl)\"; echo \"jobs=$ACERL_JOBS\"; "
                 f"OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 acerl --version; "
                 f"module unload acerl; [ \"$PATH\" = \"$before\" ] && echo restored; "
                 f"echo \"after=${{ACERL_JOBS:-unset}}\"", env=env)
    print(out)
    check(f"bin={prefix}/bin/acerl" in out, "module load acerl puts the installed acerl on PATH")
    check(f"jobs={prefix}/share/acerl/jobs" in out, "ACERL_JOBS points at the installed job scripts")
    check(re.search(r"^acerl \d+\.\d+", out, re.M) is not None, "the installed acerl --version runs")
    check("restored" in out and "after=unset" in out, "module unload restores PATH and ACERL_*")
    check((prefix / "share/acerl/jobs/slurm/sft.sbatch").exists()
          and (prefix / "share/acerl/jobs/lib/acerl_job.sh").exists(), "the job scripts are installed")
    # A job script of the install finds acerl through the module (no ACERL_BIN, not on PATH).
    if slurm_up():
        out_file = prefix / "module-job.out"
        job_env = dict(env, MODULEPATH=f"{prefix}/share/modulefiles")
        rc, out = sh(f"sbatch --wait -o {out_file} {prefix}/share/acerl/jobs/slurm/sft.sbatch "
                     f"inputs/quickstart/quickstart.ini --run.dir={prefix}/run --sft.lr=-1",
                     env=job_env, check_rc=False)
        log = out_file.read_text() if out_file.exists() else out
        check(rc == 2 and f"{prefix}/bin/acerl sft" in log,
              f"an installed job script loads the module to find acerl (exit {rc})")
    elif os.environ.get("ACERL_TEST_NO_SLURM") == "1":
        print("SKIPPED: the module-in-a-job check (no Slurm, ACERL_TEST_NO_SLURM=1)")
    else:
        check(False, "Slurm is running for the module-in-a-job check (tools/slurm_local.sh start)")
    lua = shutil.which("lua5.3") or shutil.which("lua") or shutil.which("lua5.4")
    if not check(lua is not None, "a Lua interpreter (tools/setup.sh installs lua5.3)"):
        return
    lua_file = next(p for p in version_dirs if p.suffix == ".lua")
    stub = """
local set = {}
function help(s) end
function whatis(s) end
function pathJoin(...) return table.concat({...}, "/") end
function prepend_path(k, v) print("prepend " .. k .. " " .. v) end
function setenv(k, v) print("setenv " .. k .. " " .. v) end
dofile(arg[1])
"""
    stub_file = prefix / "stub.lua"
    stub_file.write_text(stub)
    rc, out = sh(f"{lua} {stub_file} {lua_file}")
    print(out)
    check(f"prepend PATH {prefix}/bin" in out, "the Lua modulefile prepends the install's bin")
    check(f"setenv ACERL_JOBS {prefix}/share/acerl/jobs" in out, "the Lua modulefile sets ACERL_JOBS")


def case_spack_package(build):
    """spack/repo/packages/acerl/package.py parses, and its variants map one to one onto the
    ACERL_* options of CMakeLists.txt (read from both files)."""
    import ast
    package = ROOT / "spack/repo/packages/acerl/package.py"
    tree = ast.parse(package.read_text(), str(package))
    variants, defines = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if name == "variant" and args:
                default = next((k.value.value for k in node.keywords if k.arg == "default"), None)
                variants[args[0]] = default
            if name == "define_from_variant" and len(args) == 2:
                defines[args[0]] = args[1]
    options = dict(re.findall(r'option\((ACERL_\w+)\s+"[^"]*"\s+(ON|OFF)\)',
                              (ROOT / "CMakeLists.txt").read_text()))
    check(len(options) >= 5, f"CMakeLists.txt options read: {sorted(options)}")
    check(set(defines) == set(options),
          f"every ACERL_* option is set from a variant and nothing else: options {sorted(options)}, "
          f"define_from_variant {sorted(defines)}")
    check(len(set(defines.values())) == len(defines) and set(defines.values()) <= set(variants),
          f"one variant per option: {defines}")
    for opt, var in defines.items():
        if var in variants and opt in options:
            check(variants[var] == (options[opt] == "ON"),
                  f"variant {var} defaults like {opt} ({variants[var]} vs {options[opt]})")
    repo = ROOT / "spack/repo/repo.yaml"
    check(repo.exists() and "namespace:" in repo.read_text(), "spack/repo/repo.yaml names a namespace")


CASES = {f.__name__[5:]: f for f in [case_slurm_sft, case_slurm_requeue, case_slurm_chain,
                                      case_pbs, case_modules, case_spack_package]}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=sorted(CASES))
    p.add_argument("--build", required=True)
    a = p.parse_args()
    CASES[a.case](a.build)
    finish(a.case)
