// Spawning children: exactly the environment asked for (nothing of the supervisor's own is
// inherited, see child_env.hpp), chosen descriptors mapped to fixed numbers and every other one
// closed, the child in its own process group, and SIGKILL on the supervisor's death
// (PR_SET_PDEATHSIG, checked against the race where the parent is already gone). The fork/exec is
// ours because Boost 1.81's Process v2 launcher crashes on its own exec-failure path and leaves
// process_environment's setup undefined in header-only builds; the child is then watched with
// Boost.Process v2 (pidfd-based async_wait on the Asio loop).
// Fails: std::system_error naming the executable when it cannot be started (exec errno is
// reported back through a close-on-exec pipe).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/process/v2/process.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace clawgate::supervisor {

using Process = boost::process::v2::process;

struct SpawnRequest {
  std::string exe;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // the child's whole environment
  std::map<int, int> fds;                  // child fd number -> our fd
};

std::unique_ptr<Process> spawn_child(boost::asio::io_context& io, const SpawnRequest& req);

// Sends `sig` to the child's whole process group (the child and anything it started).
void signal_group(int pid, int sig);

}  // namespace clawgate::supervisor
