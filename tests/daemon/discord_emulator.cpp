// DiscordEmulator: see discord_emulator.hpp.
#include "discord_emulator.hpp"

namespace clawgate::test {

using Json = nlohmann::json;

DiscordEmulator::DiscordEmulator()
    : server_(std::make_shared<PyServer>(
          std::vector<std::string>{DISCORD_EMULATOR, "--token", kToken, "--bot-id", kBotId})) {}

Json DiscordEmulator::inject(const Json& body) {
  return server_->request("POST", "/_emu/inject", body.dump());
}

Json DiscordEmulator::dm(const std::string& author, const std::string& text) {
  return inject({{"author_id", author}, {"content", text}, {"username", "user" + author}});
}

Json DiscordEmulator::sent() {
  return server_->request("GET", "/_emu/sent", "");
}

Json DiscordEmulator::stats() {
  return server_->request("GET", "/_emu/stats", "");
}

Json DiscordEmulator::typing() {
  return server_->request("GET", "/_emu/typing", "");
}

void DiscordEmulator::faults(const Json& f) {
  server_->request("POST", "/_emu/faults", f.dump());
}

Json DiscordEmulator::gateway(const Json& action) {
  return server_->request("POST", "/_emu/gateway", action.dump());
}

Json DiscordEmulator::channel_config() const {
  return {{"token", kToken}, {"apiRoot", api_root()}};
}

}  // namespace clawgate::test
