// clawgate-slack: the Slack channel worker. main only wires (channel_main.hpp): its settings
// into a SlackWorker and its sandbox (the account's directory and the API root's port; Socket
// Mode's wss:// shares it: 443).
// Exit codes: 0 stopped, 78 configuration error (no or rejected token, naming the key), 1
// anything else.
#include "channel_main.hpp"
#include "child_config.hpp"
#include "slack_config.hpp"
#include "slack_worker.hpp"

int main() {
  using namespace clawgate;
  namespace sl = workers::slack;
  return workers::run_channel_main(
      "slack", [](ipc::Reload::Reader settings, const std::string& state_dir,
                  const std::string& account_id, boost::asio::io_context& io, Logger& log) {
        // Bounded and checked as the config file was (child_config.hpp).
        Result<cfg::SlackChannel> section =
            ipc::slack_settings(settings, sl::slack_section_path(account_id));
        if (!section) throw std::runtime_error(section.error().message);
        const sl::SlackConfig cfg = sl::slack_config(*section, state_dir, account_id);
        return workers::ChannelSetup{std::make_unique<sl::SlackWorker>(io, log, cfg),
                                     sandbox::channel_policy(cfg.state_dir, "slack", cfg.account_id,
                                                             {sandbox::url_port(cfg.api_root)})};
      });
}
