// Test harness: runs the real `clawgate gateway` as a child process on an ephemeral port with
// its own state dir, and reads its stdout to learn the URL. The destructor kills it (SIGKILL
// after a grace period), so no test leaves a process behind.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>

namespace clawgate::test {

class GatewayProcess {
 public:
  // extra_env: added to the child's environment. config_json: written to a file and passed
  // with --config when not empty.
  explicit GatewayProcess(std::map<std::string, std::string> extra_env = {},
                          const std::string& config_json = "",
                          const std::string& token = "test-token");
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  pid_t pid() const { return pid_; }
  // Sends SIGTERM and waits up to timeout_ms; returns the exit status (-1 on timeout).
  int terminate(int timeout_ms = 5000);
  std::string output();  // everything the child printed so far
  // Waits until the output contains `text`; false after timeout_ms.
  bool wait_output(const std::string& text, int timeout_ms = 5000);
  const std::string& state_dir() const { return state_dir_; }

 private:
  void read_available(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string url_, token_, state_dir_, out_;
};

}  // namespace clawgate::test
