// clawgate-discord: the Discord channel worker. main only wires (channel_main.hpp): its settings
// into a DiscordWorker and its sandbox (the account's directory; the ports of the API root and
// of the Gateway: wss://, 443; an emulator serves both on the API root's port).
// Exit codes: 0 stopped, 78 configuration error (no, rejected or refused token or intents),
// 1 anything else.
#include "channel_main.hpp"
#include "child_config.hpp"
#include "discord_worker.hpp"

int main() {
  using namespace clawgate;
  namespace dc = workers::discord;
  return workers::run_channel_main(
      "discord", [](ipc::Reload::Reader settings, const std::string& state_dir,
                    const std::string& account_id, boost::asio::io_context& io, Logger& log) {
        // Bounded and checked as the config file was (child_config.hpp).
        Result<cfg::DiscordChannel> section =
            ipc::discord_settings(settings, dc::discord_section_path(account_id));
        if (!section) throw std::runtime_error(section.error().message);
        const dc::DiscordConfig cfg = dc::discord_config(*section, state_dir, account_id);
        return workers::ChannelSetup{
            std::make_unique<dc::DiscordWorker>(io, log, cfg),
            sandbox::channel_policy(cfg.state_dir, "discord", cfg.account_id,
                                    {sandbox::url_port(cfg.api_root), 443})};
      });
}
