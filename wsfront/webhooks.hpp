// ChannelWebhooks: the front's webhook paths (Slack HTTP mode), between the transport and the
// channel hub. Claims exactly the webhookPath of each enabled HTTP-mode account (every other
// path keeps its meaning) and hands each POST on raw: no gateway token (Slack cannot send one),
// no signature check here (the signing secret is the worker's alone; the front never sees it).
// Fails: never throws into the loop; whatever the hub cannot deliver is answered 503.
#pragma once
#include <string>

#include "core/channels.hpp"
#include "log.hpp"
#include "transport.hpp"

namespace clawgate::front {

class ChannelWebhooks final : public WebhookHandler {
 public:
  ChannelWebhooks(core::ChannelHub& hub, Logger& log) : hub_(hub), log_(log) {}
  // Whether any enabled account takes events over HTTP (else the transport is not told).
  static bool wanted(const GatewaySettings& settings);

  bool claims(const std::string& path) const override { return hub_.serves_webhook(path); }
  size_t max_body_bytes() const override { return core::ChannelHub::kMaxWebhookBodyBytes; }
  void on_request(WebhookExchange&& request, std::function<void(WebhookReply)> respond) override;

 private:
  core::ChannelHub& hub_;
  Logger& log_;
};

// X-Slack-Retry-Num: 0-100, -1 when absent or not a small number.
int parse_retry_num(const std::string& header);

}  // namespace clawgate::front
