// The seccomp-BPF program of the code sandbox; see code_seccomp.h.
//
// Hand-assembled classic BPF (no libseccomp at build time): check the ABI, then one compare per
// refused syscall number, then the two calls refused only for some arguments (clone's flags,
// ioctl's request). Every branch ends in a RET, so the accumulator never needs restoring.
#include "reward/code_seccomp.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace acerl::reward {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr uint32_t kArch = AUDIT_ARCH_PPC64LE;
#else
#define ACERL_NO_SECCOMP_FILTER
#endif

#ifndef ACERL_NO_SECCOMP_FILTER
// The low 32 bits of a 64-bit syscall argument: all the flags and requests tested here live there.
constexpr uint32_t low_word_of_arg(int i) {
  return static_cast<uint32_t>(offsetof(struct seccomp_data, args) + 8 * i +
                               (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4));
}

// CLONE_NEWTIME shares its bit with CSIGNAL in clone(2)'s flags, so it is only refused through
// unshare/clone3 (both refused whole).
constexpr uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

sock_filter stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

std::vector<long> refused_syscalls() {
  return {
      SYS_unshare,
      SYS_setns,
      SYS_mount,
      SYS_umount2,
      SYS_pivot_root,
      SYS_chroot,
      SYS_ptrace,
      SYS_process_vm_readv,
      SYS_process_vm_writev,
      SYS_keyctl,
      SYS_add_key,
      SYS_request_key,
      SYS_bpf,
      SYS_perf_event_open,
      SYS_userfaultfd,
      SYS_memfd_create,
      SYS_shmget,
      SYS_msgget,  // SysV queues and semaphores would outlive a run in the sandbox's IPC namespace
      SYS_semget,
      SYS_mq_open,
      SYS_open_by_handle_at,
      SYS_name_to_handle_at,
      SYS_kexec_load,
      SYS_init_module,
      SYS_finit_module,
      SYS_delete_module,
      SYS_swapon,
      SYS_swapoff,
      SYS_reboot,
      SYS_acct,
      SYS_quotactl,
      SYS_syslog,
      SYS_vhangup,
#ifdef SYS_kexec_file_load
      SYS_kexec_file_load,
#endif
#ifdef SYS_io_uring_setup
      SYS_io_uring_setup,
      SYS_io_uring_enter,
      SYS_io_uring_register,
#endif
#ifdef SYS_open_tree
      SYS_open_tree,
      SYS_move_mount,
      SYS_fsopen,
      SYS_fsconfig,
      SYS_fsmount,
      SYS_fspick,
#endif
#ifdef SYS_mount_setattr
      SYS_mount_setattr,
#endif
#ifdef SYS_memfd_secret
      SYS_memfd_secret,
#endif
#ifdef SYS_quotactl_fd
      SYS_quotactl_fd,
#endif
#ifdef SYS_pidfd_getfd
      SYS_pidfd_getfd,
#endif
#ifdef SYS_lookup_dcookie
      SYS_lookup_dcookie,
#endif
#ifdef SYS_uselib
      SYS_uselib,
#endif
  };
}

std::vector<sock_filter> build_filter() {
  const uint32_t eperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  const uint32_t enosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
  std::vector<sock_filter> f;
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
  // x32 syscalls carry the native arch with bit 30 set in the number.
  f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
  for (long nr : refused_syscalls()) {
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(stmt(BPF_RET | BPF_K, eperm));
  }
#ifdef SYS_clone3
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, enosys));
#endif
  // ioctl(fd, TIOCSTI | TIOCLINUX, ...): EPERM; any other request: allowed.
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 5));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, low_word_of_arg(1)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, eperm));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  // clone(flags, ...) with a namespace flag: EPERM; fork, vfork and threads: allowed.
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, low_word_of_arg(0)));
  f.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kNamespaceFlags, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, eperm));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return f;
}
#endif

}  // namespace

const std::vector<struct sock_filter>& sandbox_seccomp_filter() {
#ifdef ACERL_NO_SECCOMP_FILTER
  static const std::vector<sock_filter> none;
  return none;
#else
  static const std::vector<sock_filter> filter = build_filter();
  return filter;
#endif
}

}  // namespace acerl::reward
