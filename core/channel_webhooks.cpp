// ChannelHub's side of Slack HTTP mode: a request on an account's webhookPath goes to that
// account's newest worker as an HttpRequest with a request id; the worker's HttpResponse (or a
// 503: no worker, its link closed, no answer within kWebhookWaitMs) goes back to the caller.
// Fails: an answer for a request this link was not given, or with a status outside 100-599 or a
// content type that is not one printable line, is garbage from the worker: its link is closed
// (the caller gets 503). A late answer (after the 503) is dropped.
#include <capnp/message.h>

#include <algorithm>

#include "core/channels.hpp"
#include "data.capnp.h"

namespace clawgate::core {

namespace {

ChannelHub::WebhookAnswer unavailable(std::string why) {
  ChannelHub::WebhookAnswer a;
  a.status = 503;
  a.body = std::move(why) + "\n";
  return a;
}

}  // namespace

bool ChannelHub::serves_webhook(const std::string& path) const {
  return std::any_of(settings_.channels.begin(), settings_.channels.end(),
                     [&](const ChannelSettings& c) {
                       return c.enabled && !c.webhook_path.empty() && c.webhook_path == path;
                     });
}

void ChannelHub::webhook(const std::string& path, WebhookRequest req, WebhookDone done) {
  const ChannelSettings* account = nullptr;
  for (const auto& c : settings_.channels)
    if (c.enabled && !c.webhook_path.empty() && c.webhook_path == path) account = &c;
  if (!account) return done(unavailable("no account takes events here"));
  Worker* w = worker_for(account->name, account->account_id);
  const std::string who = worker_name(*account);
  if (!w) {
    log_.warn("channels", who + ": HTTP event on " + path + " while its worker is down: 503");
    return done(unavailable("worker not running"));
  }
  // Unauthenticated bodies must not fill the worker's link (past its bound the link closes, and
  // with it the account's inbound): a link behind by a few bodies already answers 503.
  if (w->link->queued_bytes() + req.body.size() > kMaxWebhookQueuedBytes) {
    log_.warn("channels", who + ": its link is " + std::to_string(w->link->queued_bytes()) +
                              " bytes behind: HTTP event answered 503");
    return done(unavailable("busy"));
  }
  if (webhooks_.size() >= kMaxWebhooksWaiting) {
    log_.warn("channels", who + ": " + std::to_string(webhooks_.size()) +
                              " HTTP events wait for their worker already: 503");
    return done(unavailable("busy"));
  }
  const uint64_t id = next_webhook_id_++;
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<ipc::Data>().initHttpRequest();
  r.setRequestId(id);
  r.setContentType(req.content_type);
  r.setTimestamp(req.timestamp);
  r.setSignature(req.signature);
  r.setRetryNum(req.retry_num);
  r.setBody(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(req.body.data()),
                                std::min(req.body.size(), kMaxWebhookBodyBytes)));
  if (!w->link->send(b)) return done(unavailable("worker link full"));
  WaitingWebhook waiting;
  waiting.worker_key = w->name + "#" + std::to_string(w->generation);
  waiting.done = std::move(done);
  waiting.timer = std::make_shared<boost::asio::steady_timer>(io_);
  waiting.timer->expires_after(std::chrono::milliseconds(kWebhookWaitMs));
  waiting.timer->async_wait([this, id, who](const boost::system::error_code& ec) {
    if (ec) return;  // answered, failed, or the hub is gone
    log_.warn("channels", who + ": no answer to an HTTP event within " +
                              std::to_string(kWebhookWaitMs) + " ms: 503");
    finish_webhook(id, unavailable("worker did not answer in time"));
  });
  webhooks_.emplace(id, std::move(waiting));
}

void ChannelHub::finish_webhook(uint64_t id, WebhookAnswer a) {
  auto it = webhooks_.find(id);
  if (it == webhooks_.end()) return;
  WaitingWebhook w = std::move(it->second);
  webhooks_.erase(it);
  w.timer->cancel();
  w.done(std::move(a));
}

void ChannelHub::fail_webhooks(const std::string& key) {
  std::vector<uint64_t> ids;
  for (const auto& [id, w] : webhooks_)
    if (w.worker_key == key) ids.push_back(id);
  for (const uint64_t id : ids) finish_webhook(id, unavailable("worker went away"));
}

void ChannelHub::on_http_response(const std::string& key, ipc::HttpResponse::Reader r) {
  auto it = webhooks_.find(r.getRequestId());
  if (it == webhooks_.end()) return;  // late: the caller had its 503
  if (it->second.worker_key != key)
    throw std::runtime_error("an HTTP answer for a request another worker was given");
  const unsigned status = r.getStatus();
  const auto ct = r.getContentType();
  const bool ct_ok = ct.size() <= 128 && std::all_of(ct.begin(), ct.end(),
                                                     [](char c) { return c >= 0x20 && c < 0x7f; });
  const auto body = r.getBody();
  if (status < 100 || status > 599 || !ct_ok || body.size() > 64 * 1024)
    throw std::runtime_error("a malformed HTTP answer (status " + std::to_string(status) + ")");
  WebhookAnswer a;
  a.status = static_cast<int>(status);
  if (ct.size()) a.content_type = ct.cStr();
  a.body.assign(reinterpret_cast<const char*>(body.begin()), body.size());
  finish_webhook(r.getRequestId(), std::move(a));
}

}  // namespace clawgate::core
