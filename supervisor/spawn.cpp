// Spawning children: see spawn.hpp.
#include "spawn.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

namespace clawgate::supervisor {

namespace {

// Between fork and exec: async-signal-safe calls only. Never returns.
[[noreturn]] void exec_child(pid_t parent, const SpawnRequest& req, char* const* argv,
                             char* const* envp, int err_fd) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the supervisor died before prctl took hold
  // Lift every source above the target range first so no dup2 clobbers a later source.
  int max_target = 2;
  int lifted[8];
  size_t n = 0;
  for (const auto& [target, fd] : req.fds) {
    lifted[n++] = ::fcntl(fd, F_DUPFD, 64);
    max_target = std::max(max_target, target);
  }
  n = 0;
  for (const auto& [target, fd] : req.fds) {
    (void)fd;
    ::dup2(lifted[n++], target);  // dup2 leaves the target without FD_CLOEXEC
  }
  const int report = ::fcntl(err_fd, F_DUPFD_CLOEXEC, max_target + 1);
  ::close_range(static_cast<unsigned>(report + 1), ~0U, 0);
  for (int fd = max_target + 1; fd < report; ++fd) ::close(fd);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);  // ignored by the supervisor; children choose for themselves
  ::execve(argv[0], argv, envp);
  const int err = errno;
  ssize_t w = ::write(report, &err, sizeof err);
  (void)w;
  ::_exit(127);
}

}  // namespace

std::unique_ptr<Process> spawn_child(boost::asio::io_context& io, const SpawnRequest& req) {
  if (req.fds.size() > 8) throw std::invalid_argument("spawn_child: too many descriptors");
  // Everything the child needs is built before fork. Nothing of ours is inherited.
  std::vector<std::string> env_list, arg_list{req.exe};
  for (const auto& [k, v] : req.env) env_list.push_back(k + "=" + v);
  arg_list.insert(arg_list.end(), req.args.begin(), req.args.end());
  std::vector<char*> argv, envp;
  for (auto& a : arg_list) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_list) envp.push_back(e.data());
  envp.push_back(nullptr);

  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  const pid_t parent = ::getpid();
  io.notify_fork(boost::asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(parent, req, argv.data(), envp.data(), errpipe[1]);
  io.notify_fork(boost::asio::execution_context::fork_parent);
  const int fork_errno = errno;
  ::close(errpipe[1]);
  if (pid < 0) {
    ::close(errpipe[0]);
    throw std::system_error(fork_errno, std::generic_category(), "fork");
  }
  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(errpipe[0], &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  ::close(errpipe[0]);
  if (got == sizeof child_errno) {  // exec failed: reap it here, report why
    int status;
    ::waitpid(pid, &status, 0);
    throw std::system_error(child_errno, std::generic_category(), "exec " + req.exe);
  }
  return std::make_unique<Process>(io.get_executor(), pid);
}

void signal_group(int pid, int sig) {
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);  // not yet in its own group: the child alone
}

}  // namespace clawgate::supervisor
