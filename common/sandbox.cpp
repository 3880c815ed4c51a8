// Sandbox: see sandbox.hpp.
#include "sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fs.hpp"

namespace clawgate::sandbox {

namespace {

// Landlock UAPI up to ABI 6. Debian 12's linux-libc-dev (6.1) stops at ABI 2, so the newer
// constants and the three-field ruleset attribute are defined here.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};
struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

constexpr uint32_t kCreateRulesetVersion = 1U << 0;
constexpr int kRulePathBeneath = 1, kRuleNetPort = 2;

constexpr uint64_t kFsExecute = 1ULL << 0, kFsWriteFile = 1ULL << 1, kFsReadFile = 1ULL << 2,
                   kFsReadDir = 1ULL << 3, kFsRemoveDir = 1ULL << 4, kFsRemoveFile = 1ULL << 5,
                   kFsMakeDir = 1ULL << 7, kFsMakeReg = 1ULL << 8, kFsMakeSym = 1ULL << 12,
                   kFsRefer = 1ULL << 13, kFsTruncate = 1ULL << 14, kFsIoctlDev = 1ULL << 15;
constexpr uint64_t kFsAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
// Rights that make sense on a file (not a directory) rule.
constexpr uint64_t kFsFileRights =
    kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev;
constexpr uint64_t kNetBindTcp = 1ULL << 0, kNetConnectTcp = 1ULL << 1;
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0, kScopeSignal = 1ULL << 1;

constexpr uint64_t kRead = kFsReadFile | kFsReadDir;
constexpr uint64_t kReadWrite = kRead | kFsWriteFile | kFsRemoveDir | kFsRemoveFile | kFsMakeDir |
                                kFsMakeReg | kFsMakeSym | kFsRefer | kFsTruncate;

uint64_t fs_rights_for_abi(int abi) {
  uint64_t r = kFsAbi1;
  if (abi >= 2) r |= kFsRefer;
  if (abi >= 3) r |= kFsTruncate;
  if (abi >= 5) r |= kFsIoctlDev;
  return r;
}

std::string err_text(int err) {
  return std::strerror(err);
}

int thread_count() {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return 1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

// Adds one path rule; a path that does not exist is skipped (gai.conf, say, is optional).
void add_path(int ruleset, const std::string& path, uint64_t access, uint64_t handled, Report& r) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= kFsFileRights;
  PathBeneathAttr attr{access & handled, fd};
  if (attr.allowed_access != 0 &&
      ::syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0) != 0)
    r.not_applied.push_back("landlock: no rule for " + path + ": " + err_text(errno));
  ::close(fd);
}

void apply_landlock(const Policy& p, int abi_limit, Report& r) {
  r.landlock_abi = std::min(landlock_abi(), abi_limit);
  if (r.landlock_abi == 0) {
    r.not_applied.push_back("landlock: not available in this kernel (files, TCP ports)");
    return;
  }
  RulesetAttr attr{};
  attr.handled_access_fs = fs_rights_for_abi(r.landlock_abi);
  if (r.landlock_abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
  } else {
    r.not_applied.push_back("landlock: TCP bind/connect rules need ABI 4, the kernel has " +
                            std::to_string(r.landlock_abi));
  }
  if (r.landlock_abi >= 6) {
    if (p.scope_abstract_unix) attr.scoped |= kScopeAbstractUnix;
    if (p.scope_signals) attr.scoped |= kScopeSignal;
  } else if (p.scope_abstract_unix || p.scope_signals) {
    r.not_applied.push_back("landlock: signal and abstract-socket scoping need ABI 6");
  }
  const long ruleset = ::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0) {
    r.not_applied.push_back("landlock: cannot create a ruleset: " + err_text(errno));
    return;
  }
  const int rs = static_cast<int>(ruleset);
  for (const auto& path : p.read_paths) add_path(rs, path, kRead, attr.handled_access_fs, r);
  for (const auto& path : p.write_paths) {
    try {
      make_dirs(path);
    } catch (const std::exception& e) {
      r.not_applied.push_back(std::string("landlock: ") + e.what());
    }
    add_path(rs, path, kReadWrite, attr.handled_access_fs, r);
  }
  if (attr.handled_access_net) {
    for (uint16_t port : p.connect_ports) {
      NetPortAttr np{kNetConnectTcp, port};
      if (::syscall(SYS_landlock_add_rule, rs, kRuleNetPort, &np, 0) != 0)
        r.not_applied.push_back("landlock: no rule for TCP port " + std::to_string(port) + ": " +
                                err_text(errno));
    }
  }
  // Threads started earlier keep their old rights; say so rather than pretend.
  if (const int n = thread_count(); n > 1)
    r.not_applied.push_back("landlock: " + std::to_string(n - 1) +
                            " thread(s) started before the sandbox are not restricted");
  if (::syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
    r.not_applied.push_back("landlock: cannot enforce the ruleset: " + err_text(errno));
  } else {
    r.landlock = true;
  }
  ::close(rs);
}

// Calls no child makes once it runs, listed by name so the filter reads as policy.
const char* const kDenied[] = {
    "execve",
    "execveat",  // no new programs
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",         // no looking into others
    "pidfd_getfd",  // no stealing descriptors
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",  // no filesystem changes
    "unshare",
    "setns",  // no namespaces
    "bpf",
    "perf_event_open",
    "userfaultfd",  // kernel attack surface
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",  //
    "keyctl",
    "add_key",
    "request_key",  // no kernel keyrings
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "syslog",
    "vhangup",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
};

void apply_seccomp(Report& r) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    r.not_applied.push_back("seccomp: cannot create a filter");
    return;
  }
  // Denied calls fail with EPERM: a library that probes (io_uring, say) falls back, not dies.
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  std::string failed;
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  for (const char* name : kDenied) {
    if (sanitizer_build() && std::strcmp(name, "ptrace") == 0) continue;
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (seccomp_rule_add(ctx, deny, nr, 0) != 0) failed += std::string(" ") + name;
  }
  // clone(2) may start threads and processes, not namespaces. clone3 passes its flags in memory
  // a filter cannot read, so it says ENOSYS and glibc falls back to clone.
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                        CLONE_NEWUTS, CLONE_NEWCGROUP})
    if (seccomp_rule_add(ctx, deny, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)) !=
        0)
      failed += " clone";
  if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0) failed += " clone3";
  if (!failed.empty()) r.not_applied.push_back("seccomp: no rule for" + failed);
  const int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    r.not_applied.push_back("seccomp: cannot load the filter: " + err_text(-rc));
    return;
  }
  r.seccomp = true;
  if (sanitizer_build())
    r.not_applied.push_back("seccomp: ptrace allowed (sanitizer build: LeakSanitizer needs it)");
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

bool sanitizer_build() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

std::vector<std::string> runtime_read_paths() {
  std::vector<std::string> out = {
      "/usr",
      "/lib",
      "/lib64",  // shared libraries: NSS modules, OpenSSL providers, gconv
      "/etc/ld.so.cache",
      "/etc/ssl/certs",
      "/etc/ssl/openssl.cnf",
      "/etc/ca-certificates",
      "/etc/pki",  // TLS trust (not /etc/ssl/private)
      "/etc/resolv.conf",
      "/etc/hosts",
      "/etc/nsswitch.conf",
      "/etc/gai.conf",
      "/etc/host.conf",
      "/etc/services",
      "/etc/protocols",  // DNS and getaddrinfo
      "/etc/localtime",
      "/dev/urandom",
      "/dev/random",
      "/dev/null",
      "/proc/self",  // resolves to /proc/<pid>: this process only, never another's environ
  };
  for (const char* v : {"SSL_CERT_FILE", "SSL_CERT_DIR"})
    if (const char* p = std::getenv(v); p && *p) out.emplace_back(p);
  if (auto exe = self_exe(); !exe.empty()) out.push_back(exe);
  return out;
}

std::string channel_state_dir(const std::string& state_dir, const std::string& channel,
                              const std::string& account_id) {
  return state_dir + "/" + channel + "/" + account_id;
}

uint16_t url_port(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return 0;
  const std::string scheme = url.substr(0, scheme_end);
  const size_t host_begin = scheme_end + 3;
  const size_t host_end = url.find_first_of("/?#", host_begin);
  std::string authority = url.substr(
      host_begin, host_end == std::string::npos ? std::string::npos : host_end - host_begin);
  if (const size_t at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    const std::string digits = authority.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return 0;
    const long port = std::atol(digits.c_str());
    return port > 0 && port <= 65535 ? static_cast<uint16_t>(port) : 0;
  }
  if (scheme == "https") return 443;
  if (scheme == "http") return 80;
  return 0;
}

Policy front_policy(const std::string& state_dir, const std::vector<std::string>& tls_dirs) {
  Policy p;
  p.kind = "front";
  p.read_paths = runtime_read_paths();
  p.read_paths.insert(p.read_paths.end(), tls_dirs.begin(), tls_dirs.end());
  p.write_paths = {state_dir};
  // Run alone under systemd, the front tells it STOPPING=1 through NOTIFY_SOCKET, which may
  // be an abstract socket.
  const char* notify = std::getenv("NOTIFY_SOCKET");
  p.scope_abstract_unix = !(notify && notify[0] == '@');
  return p;
}

Policy channel_policy(const std::string& state_dir, const std::string& channel,
                      const std::string& account_id, std::vector<uint16_t> ports) {
  Policy p;
  p.kind = "channel";
  p.read_paths = runtime_read_paths();
  p.write_paths = {channel_state_dir(state_dir, channel, account_id)};
  p.connect_ports = std::move(ports);
  return p;
}

Policy agent_policy(std::vector<uint16_t> ports) {
  Policy p;
  p.kind = "agent";
  p.read_paths = runtime_read_paths();
  p.connect_ports = std::move(ports);
  return p;
}

int landlock_abi() {
  const long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return v < 0 ? 0 : static_cast<int>(v);
}

Report apply(const Policy& p, int landlock_abi_limit) {
  Report r;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
    r.no_new_privs = true;
  } else {
    r.not_applied.push_back("no_new_privs: " + err_text(errno));
  }
  apply_landlock(p, landlock_abi_limit, r);
  if (r.no_new_privs) {
    apply_seccomp(r);
  } else {
    r.not_applied.push_back("seccomp: needs no_new_privs");
  }
  return r;
}

void log_report(Logger& log, const std::string& who, const Report& r) {
  log.info("sandbox", who + ": no_new_privs " + (r.no_new_privs ? "on" : "off") + ", seccomp " +
                          (r.seccomp ? "on" : "off") + ", landlock " +
                          (r.landlock ? "ABI " + std::to_string(r.landlock_abi) : "off"));
  for (const auto& n : r.not_applied) log.warn("sandbox", who + ": not applied: " + n);
}

}  // namespace clawgate::sandbox
