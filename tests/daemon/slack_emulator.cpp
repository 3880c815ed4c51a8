// Test harness: see slack_emulator.hpp.
#include "slack_emulator.hpp"

namespace clawgate::test {

using Json = nlohmann::json;

SlackEmulator::SlackEmulator(const std::string& bot_token, const std::string& app_token)
    : bot_token_(bot_token),
      app_token_(app_token),
      server_({SLACK_EMULATOR, "--bot-token", bot_token, "--app-token", app_token,
               "--ping-interval", "2"}) {}

Json SlackEmulator::inject(const Json& body) {
  return server_.request("POST", "/_emu/inject", body.dump());
}

Json SlackEmulator::dm(const std::string& user, const std::string& text) {
  return inject({{"channel", "D" + user.substr(1)}, {"user", user}, {"text", text}});
}

void SlackEmulator::add_channel(const std::string& channel, const std::string& type) {
  Json body = {{"channel", channel}};
  if (!type.empty()) body["channel_type"] = type;
  server_.request("POST", "/_emu/channel", body.dump());
}

Json SlackEmulator::sent() {
  return server_.request("GET", "/_emu/sent", "");
}
Json SlackEmulator::stats() {
  return server_.request("GET", "/_emu/stats", "");
}
void SlackEmulator::faults(const Json& f) {
  server_.request("POST", "/_emu/faults", f.dump());
}
Json SlackEmulator::disconnect(const Json& body) {
  return server_.request("POST", "/_emu/disconnect", body.dump());
}
Json SlackEmulator::drop() {
  return server_.request("POST", "/_emu/drop", "{}");
}

Json SlackEmulator::hang() {
  return server_.request("POST", "/_emu/hang", "{}");
}
Json SlackEmulator::http_event(const std::string& url, const std::string& signing_secret,
                               Json body) {
  body["url"] = url;
  body["signing_secret"] = signing_secret;
  return server_.request("POST", "/_emu/http_event", body.dump(), 15000);
}

Json SlackEmulator::channel_config() const {
  return {{"botToken", bot_token_}, {"appToken", app_token_}, {"apiRoot", api_root()}};
}

}  // namespace clawgate::test
