// Sandbox: what each child process may do once it has set itself up, as data (one Policy per
// process kind, built by one function each), and the one function that applies a policy to the
// calling process: PR_SET_NO_NEW_PRIVS, a Landlock ruleset (files, TCP ports, signal and
// abstract-socket scoping) and a seccomp filter denying calls no child needs (execve, ptrace,
// mount, bpf, keyctl, module loading, namespaces, ...).
// Fails: never throws and never stops the process. Whatever the kernel cannot enforce (no
// Landlock, an ABI too old for TCP rules, no seccomp) is left out and named in the Report, which
// the child logs and sends to the supervisor for `status`. Apply it before starting any thread:
// Landlock restricts the calling thread and what it creates afterwards (seccomp is synced to all
// threads).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "log.hpp"

namespace clawgate::sandbox {

struct Policy {
  std::string kind;                      // "front" | "channel" | "agent"
  std::vector<std::string> read_paths;   // files or directories, read-only (missing: skipped)
  std::vector<std::string> write_paths;  // directories, read/write (created when missing)
  // TCP connect() is allowed to these ports only (any host); bind() to none.
  std::vector<uint16_t> connect_ports;
  bool scope_abstract_unix = true;  // no connecting to abstract Unix sockets outside the sandbox
  bool scope_signals = true;        // no signals to processes outside the sandbox
};

struct Report {
  bool no_new_privs = false;
  bool seccomp = false;
  int landlock_abi = 0;                  // the kernel's Landlock ABI; 0 when it has none
  bool landlock = false;                 // a Landlock ruleset is enforced on this process
  std::vector<std::string> not_applied;  // what the policy asked for and the kernel could not do
};

// What every child reads at run time: shared libraries (NSS and OpenSSL load some lazily), DNS
// and TLS configuration, CA certificates, time zones, /dev/urandom, /proc/self (RSS, sanitizer
// maps), its own executable (sanitizer symbolization), and SSL_CERT_FILE/SSL_CERT_DIR when set.
std::vector<std::string> runtime_read_paths();

// The front: the whole state directory read/write (sessions, queue, cron, its token), no TCP
// connect at all; it accepts on the listening socket it already holds. `tls_dirs`: where
// gateway.tls's files are, read-only (certificate renewal).
Policy front_policy(const std::string& state_dir, const std::vector<std::string>& tls_dirs = {});
// A channel worker: its own state/<channel>/<account>/ only and TCP connect to `ports` (the
// ports its API root names).
Policy channel_policy(const std::string& state_dir, const std::string& channel,
                      const std::string& account_id, std::vector<uint16_t> ports);
// The agent worker: no state files, TCP connect to its model providers' ports.
Policy agent_policy(std::vector<uint16_t> ports);

// The directory a channel account keeps its state in: <state>/<channel>/<account>.
std::string channel_state_dir(const std::string& state_dir, const std::string& channel,
                              const std::string& account_id);

// The port an http(s)://host[:port]/... URL connects to (443/80 by default); 0 when malformed.
uint16_t url_port(const std::string& url);

// Applies `p` to the calling process, irreversibly. `landlock_abi_limit` makes it behave as on
// an older kernel (tests): Landlock features above that ABI are left out and reported.
Report apply(const Policy& p, int landlock_abi_limit = 1 << 20);

// One log line for what is enforced, and a warning for each thing that is not.
void log_report(Logger& log, const std::string& who, const Report& r);

// The running kernel's Landlock ABI (0: none).
int landlock_abi();

// True in AddressSanitizer builds: LeakSanitizer needs ptrace at exit, so the filter allows it.
bool sanitizer_build();

}  // namespace clawgate::sandbox
