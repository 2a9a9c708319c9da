// defines: sandbox_seccomp_filter: the seccomp-BPF program every sandboxed run ends under. bwrap
// loads it (--seccomp) after building the sandbox; the rlimit fallback installs it in the child
// just before exec (code_process.cpp). System calls a test program never needs and that reach
// past the sandbox's limits fail with EPERM; other syscall ABIs (i386, x32) kill the process.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace acerl::reward {

// What the filter refuses, with EPERM unless noted:
//   - new namespaces: unshare, setns, and clone with any CLONE_NEW* flag (a nested user namespace
//     would hand the program a fresh set of capabilities over its own mounts); clone3 gets ENOSYS,
//     since its flags sit behind a pointer, and glibc then falls back to clone;
//   - mounts and root changes (mount, umount2, pivot_root, chroot, the fsopen/open_tree family);
//   - other processes' memory (ptrace, process_vm_readv/writev), kernel keyrings, bpf,
//     perf_event_open, userfaultfd, io_uring, file handles (open_by_handle_at);
//   - memory outside the address-space limit: memfd_create, memfd_secret and SysV shmget hold
//     pages that RLIMIT_AS does not count and that the sandbox's sized /tmp does not cap;
//   - terminal input injection (ioctl TIOCSTI, TIOCLINUX), and the administrator's calls
//     (kexec, modules, swap, reboot, acct, quotactl, syslog) for the case the sandbox runs as root.
// Empty on an architecture this file has no syscall ABI check for: the sandbox then runs without.
const std::vector<struct sock_filter>& sandbox_seccomp_filter();

}  // namespace acerl::reward
