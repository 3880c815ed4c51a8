// FrontLink and Outbox: see channel_worker.hpp.
#include "channel_worker.hpp"

#include <capnp/serialize.h>

#include <algorithm>

#include "contract.hpp"

namespace clawgate::workers {

// ---------------------------------------------------------------------------------------------
// Outbox

Outbox::Outbox(boost::asio::io_context& io, Handlers h) : h_(std::move(h)), timer_(io) {}

void Outbox::offer(std::string id, std::string to, std::string_view text) {
  Delivery d;
  d.id = std::move(id);
  d.to = std::move(to);
  // Already delivered (the front restarted before hearing back): the result, not a resend.
  if (auto it = done_.find(d.id); it != done_.end()) {
    d.message_ids = it->second;
    return h_.report(d, std::nullopt);
  }
  for (const auto& x : queue_)
    if (x.id == d.id) return;  // already queued here
  if (std::optional<Error> why = h_.prepare(d, text)) return h_.report(d, why);
  if (d.chunks.empty()) return h_.report(d, Error::invalid("empty message"));
  queue_.push_back(std::move(d));
  next();
}

void Outbox::next() {
  if (sending_ || stopped_ || queue_.empty()) return;
  sending_ = true;
  h_.send(queue_.front());
}

Outbox::Delivery* Outbox::landed() {
  sending_ = false;
  return stopped_ || queue_.empty() ? nullptr : &queue_.front();
}

void Outbox::sent(std::string message_id) {
  Delivery& d = queue_.front();
  d.message_ids.push_back(std::move(message_id));
  d.attempts = 0;
  if (++d.next < d.chunks.size()) return next();
  finish();
}

void Outbox::finish() {
  Delivery done = std::move(queue_.front());
  queue_.pop_front();
  done_[done.id] = done.message_ids;
  done_order_.push_back(done.id);
  if (done_order_.size() > kMaxRemembered) {
    done_.erase(done_order_.front());
    done_order_.pop_front();
  }
  h_.report(done, std::nullopt);
  next();
}

void Outbox::retry_in(int64_t ms) {
  sending_ = true;  // nothing else goes out meanwhile: order is kept
  timer_.expires_after(std::chrono::milliseconds(ms));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    sending_ = false;
    if (!ec) next();
  });
}

void Outbox::fail(Error error) {
  Delivery failed = std::move(queue_.front());
  queue_.pop_front();
  h_.report(failed, error);
  next();
}

void Outbox::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Outbox::on_new_front() {
  std::deque<Delivery> keep;
  if (!queue_.empty() && (sending_ || queue_.front().next > 0))
    keep.push_back(std::move(queue_.front()));
  queue_ = std::move(keep);
}

// ---------------------------------------------------------------------------------------------
// FrontLink

namespace {

std::string id_of(kj::ArrayPtr<const capnp::word> words) {
  capnp::FlatArrayMessageReader r(words);
  return r.getRoot<ipc::Data>().getInbound().getId().cStr();
}

}  // namespace

FrontLink::FrontLink(boost::asio::io_context& io, Logger& log, Options o, Handlers h)
    : io_(io), log_(log), o_(std::move(o)), h_(std::move(h)), outbox_(io, [this] {
        Outbox::Handlers oh = h_.outbox;
        oh.report = [this](const Outbox::Delivery& d, const std::optional<Error>& e) {
          report(d, e);
        };
        return oh;
      }()) {
  if (o_.journal_path.empty()) return;
  // What a killed predecessor had not handed over comes first.
  journal_ = std::make_unique<InboundJournal>(o_.journal_path, o_.max_pending);
  for (auto& words : journal_->take_loaded()) {
    std::string id = id_of(words);
    pending_.push_back({std::move(id), std::move(words), false, false});
  }
  if (!pending_.empty())
    log_.info(o_.channel,
              std::to_string(pending_.size()) +
                  " message(s) not yet handed to the front by the last run: offered again");
}

FrontLink::~FrontLink() {
  close("worker stopping");
}

void FrontLink::close(const std::string& why) {
  if (link_) link_->close(why);
}

void FrontLink::attach(int fd, uint32_t generation) {
  if (link_) link_->close("replaced");
  generation_ = generation;
  link_ = ipc::Link::create(io_, fd, ipc::contract::data_link("front"));
  for (Pending& p : pending_) p.sent = false;  // the new front hears everything unacknowledged
  outbox_.on_new_front();
  link_->start([this](capnp::MessageReader& r) { on_front(r); },
               [this, generation](const std::string& reason) {
                 if (generation != generation_) return;
                 log_.warn(o_.channel, "front link lost (" + reason +
                                           "); holding inbound messages until it returns");
               });
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<ipc::Data>().initHello();
  h.setChannel(o_.channel);
  h.setAccountId(o_.account_id);
  h.setGeneration(generation);
  link_->send(b);
  send_status();
  flush();
}

void FrontLink::offer(capnp::MessageBuilder& msg, bool held) {
  auto in = msg.getRoot<ipc::Data>().getInbound();
  // On disk before anything else: the platform considers it delivered already.
  if (journal_ && !journal_->add(in.asReader()))
    log_.error(o_.channel, "cannot write the inbound journal; " + std::string(in.getId().cStr()) +
                               " is held in memory only");
  pending_.push_back({in.getId().cStr(), capnp::messageToFlatArray(msg), held, false});
  flush();
}

void FrontLink::release(capnp::MessageBuilder& msg) {
  auto in = msg.getRoot<ipc::Data>().getInbound();
  const std::string id = in.getId().cStr();
  for (Pending& p : pending_)
    if (p.id == id && p.held) {
      // Journaled again as completed (the loader keeps the later line), so a worker killed
      // before the front has it hands the next one what the lookup found.
      if (journal_ && !journal_->add(in.asReader()))
        log_.error(o_.channel, "cannot write the inbound journal for " + id);
      p.words = capnp::messageToFlatArray(msg);
      p.held = false;
    }
  flush();
}

std::string FrontLink::oldest_pending() const {
  return pending_.empty() ? "" : pending_.front().id;
}

std::vector<std::string> FrontLink::pending_ids() const {
  std::vector<std::string> ids;
  for (const Pending& p : pending_) ids.push_back(p.id);
  return ids;
}

void FrontLink::flush() {
  if (!is_open()) return;
  for (Pending& p : pending_) {
    if (p.held) return;  // in order: later messages wait for an earlier one's lookup
    if (p.sent) continue;
    capnp::FlatArrayMessageReader r(p.words);
    // Sized from the words, not r.sizeInWords(): Cap'n Proto 0.9's ReaderArena deadlocks there.
    capnp::MallocMessageBuilder b(static_cast<unsigned>(p.words.size()));
    b.setRoot(r.getRoot<ipc::Data>());
    if (!link_->send(b)) return;
    p.sent = true;
  }
}

void FrontLink::acknowledged(const std::string& id) {
  auto it =
      std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.id == id; });
  if (it != pending_.end()) {
    pending_.erase(it);
    if (journal_) {
      std::vector<std::unique_ptr<capnp::FlatArrayMessageReader>> readers;
      std::vector<ipc::Inbound::Reader> rest;
      for (const Pending& p : pending_) {
        readers.push_back(std::make_unique<capnp::FlatArrayMessageReader>(p.words));
        rest.push_back(readers.back()->getRoot<ipc::Data>().getInbound());
      }
      if (!journal_->ack(id, rest)) log_.error(o_.channel, "cannot update the inbound journal");
    }
  }
  if (h_.acked) h_.acked(id);
}

void FrontLink::on_front(capnp::MessageReader& r) {
  auto msg = r.getRoot<ipc::Data>();
  switch (msg.which()) {
    case ipc::Data::INBOUND_ACK:
      return acknowledged(msg.getInboundAck().cStr());
    case ipc::Data::OUTBOUND: {
      auto o = msg.getOutbound();
      return outbox_.offer(o.getDeliveryId(), o.getTo(),
                           std::string_view(o.getText().cStr(), o.getText().size()));
    }
    case ipc::Data::TYPING:
      if (h_.typing) h_.typing(msg.getTyping());
      return;  // a platform without a typing indicator has nothing to show
    default:
      if (h_.other && h_.other(msg)) return;
      log_.debug(o_.channel, "a front message of a kind this worker has no use for: ignored");
      return;
  }
}

bool FrontLink::send(capnp::MessageBuilder& msg) {
  return is_open() && link_->send(msg);
}

void FrontLink::send_status() {
  if (!is_open()) return;
  capnp::MallocMessageBuilder b;
  h_.status(b.initRoot<ipc::Data>().initStatus());
  link_->send(b);
}

void FrontLink::report(const Outbox::Delivery& d, const std::optional<Error>& error) {
  if (!is_open()) return;  // the next front sends it again; the remembered result answers
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<ipc::Data>().initDelivery();
  r.setDeliveryId(d.id);
  r.setOk(!error);
  auto ids = r.initMessageIds(static_cast<unsigned>(d.message_ids.size()));
  for (unsigned i = 0; i < d.message_ids.size(); ++i) ids.set(i, d.message_ids[i]);
  if (error) ipc::write_error(*error, r.initError());
  link_->send(b);
}

}  // namespace clawgate::workers
