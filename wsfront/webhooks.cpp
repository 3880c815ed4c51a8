// ChannelWebhooks: see webhooks.hpp.
#include "webhooks.hpp"

#include <algorithm>

#include "utf8.hpp"

namespace clawgate::front {

bool ChannelWebhooks::wanted(const GatewaySettings& settings) {
  return std::any_of(settings.channels.begin(), settings.channels.end(),
                     [](const ChannelSettings& c) { return c.enabled && !c.webhook_path.empty(); });
}

int parse_retry_num(const std::string& header) {
  if (header.empty() || header.size() > 3 ||
      !std::all_of(header.begin(), header.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  const int n = std::stoi(header);
  return n <= 100 ? n : -1;
}

void ChannelWebhooks::on_request(WebhookExchange&& request,
                                 std::function<void(WebhookReply)> respond) {
  core::ChannelHub::WebhookRequest r;
  // Header values the worker bounds again; cut here so the link carries no more than needed.
  r.content_type = utf8::truncate_bytes(request.content_type, 128);
  r.timestamp = request.slack_timestamp.substr(0, 32);
  r.signature = request.slack_signature.substr(0, 128);
  r.retry_num = parse_retry_num(request.slack_retry_num);
  r.body = std::move(request.body);
  if (r.retry_num > 0)
    log_.debug("front", "Slack retry " + std::to_string(r.retry_num) + " on " + request.path);
  hub_.webhook(request.path, std::move(r),
               [respond = std::move(respond)](core::ChannelHub::WebhookAnswer a) {
                 WebhookReply reply;
                 reply.status = a.status;
                 reply.content_type = std::move(a.content_type);
                 reply.body = std::move(a.body);
                 respond(std::move(reply));
               });
}

}  // namespace clawgate::front
