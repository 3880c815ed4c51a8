// clawgate-telegram: the Telegram channel worker. main only wires (channel_main.hpp): its
// settings into a TelegramWorker and its sandbox (the account's directory, the API root's port).
// Exit codes: 0 stopped, 78 configuration error (no or rejected token), 1 anything else.
#include "channel_main.hpp"
#include "child_config.hpp"
#include "telegram_worker.hpp"

int main() {
  using namespace clawgate;
  return workers::run_channel_main("telegram", [](ipc::Reload::Reader settings,
                                                  const std::string& state_dir,
                                                  const std::string& account_id,
                                                  boost::asio::io_context& io, Logger& log) {
    // Bounded and checked as the config file was (child_config.hpp).
    Result<cfg::TelegramChannel> section =
        ipc::telegram_settings(settings, workers::telegram_section_path(account_id));
    if (!section) throw std::runtime_error(section.error().message);
    const workers::TelegramConfig cfg = workers::telegram_config(*section, state_dir, account_id);
    // Token, token file and offset are read by then.
    return workers::ChannelSetup{std::make_unique<workers::TelegramWorker>(io, log, cfg),
                                 sandbox::channel_policy(cfg.state_dir, "telegram", cfg.account_id,
                                                         {sandbox::url_port(cfg.api_root)})};
  });
}
