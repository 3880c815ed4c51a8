// The parts every channel worker has in common, so that a worker's own code is its platform:
// - FrontLink: the data link to the front. It attaches the front's socket (again whenever the
//   front restarts: hello, status, everything unacknowledged offered again), keeps each inbound
//   message until the front acknowledges it (optionally journaled on disk, inbound_journal.hpp,
//   for a platform that will not send it again), sends the worker's status, and hands the
//   front's outbound, typing and any other message to the platform code.
// - Outbox: the front's deliveries, one at a time and in order; a delivery id already finished
//   is answered with its result (a front that restarted re-sends what it never heard back
//   about), one already queued is ignored. The platform prepares (target, chunks) and sends each
//   step, then says how it went: sent(), retry_in() or fail().
// Fails: a lost front link is logged and waited out (the supervisor hands the next front's
// socket over); a front message of a kind the worker has no use for is ignored (logged); a
// journal the disk refuses is logged and the message kept in memory.
#pragma once
#include <capnp/message.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data.capnp.h"
#include "error.hpp"
#include "inbound_journal.hpp"
#include "link.hpp"
#include "log.hpp"

namespace clawgate::workers {

class Outbox {
 public:
  static constexpr size_t kMaxRemembered = 2000;  // delivery results kept for re-sends

  struct Delivery {
    std::string id, to;
    std::string route;  // where it goes once the platform knows (Discord: a DM's channel id)
    std::vector<std::string> chunks;
    size_t next = 0;  // the chunk to send
    std::vector<std::string> message_ids;
    int attempts = 0;
  };
  struct Handlers {
    // Fills d.chunks (and d.route) from the text, or says why it cannot go (reported failed;
    // a delivery left without chunks fails as an empty message).
    std::function<std::optional<Error>(Delivery& d, std::string_view text)> prepare;
    // Sends the next step of d (usually d.chunks[d.next]); its answer calls landed() first.
    std::function<void(Delivery& d)> send;
    // Tells the front how a delivery ended: sent (no error) or failed.
    std::function<void(const Delivery& d, const std::optional<Error>& error)> report;
  };

  Outbox(boost::asio::io_context& io, Handlers h);

  // The front's outbound message.
  void offer(std::string id, std::string to, std::string_view text);
  // The answer to send() came: the delivery it was for, or nullptr when stopped meanwhile.
  Delivery* landed();
  // The step sent as `message_id` (its chunk): the next chunk, or the delivery is done.
  void sent(std::string message_id);
  // The step goes again after `ms`; nothing else goes out meanwhile (order is kept).
  void retry_in(int64_t ms);
  // The delivery failed: reported with `error`, and the next one goes.
  void fail(Error error);
  void next();
  void stop();
  // A new front: deliveries not yet started are its to send again; one in progress finishes
  // and its result goes to the new front (which re-sends it; the remembered result answers).
  void on_new_front();

 private:
  void finish();

  Handlers h_;
  std::deque<Delivery> queue_;
  bool sending_ = false, stopped_ = false;
  std::map<std::string, std::vector<std::string>> done_;  // delivery id -> message ids
  std::deque<std::string> done_order_;
  boost::asio::steady_timer timer_;
};

class FrontLink {
 public:
  struct Options {
    std::string channel;  // "telegram": the hello and log lines
    std::string account_id = "default";
    // When set, inbound messages are journaled there until acknowledged, and what a previous
    // run left is offered first (at most max_pending of them).
    std::string journal_path;
    size_t max_pending =
        1000;  // full(): the worker stops fetching or drops, as its platform allows
  };
  struct Handlers {
    std::function<void(ipc::WorkerStatus::Builder s)> status;  // fills the status
    Outbox::Handlers outbox;
    std::function<void(const std::string& id)> acked;   // after the front's ack (optional)
    std::function<void(ipc::Typing::Reader t)> typing;  // optional: none shows nothing
    // A front message of another kind (a worker-specific one); false: not handled (ignored).
    std::function<bool(ipc::Data::Reader msg)> other;
  };

  FrontLink(boost::asio::io_context& io, Logger& log, Options o, Handlers h);
  ~FrontLink();

  // The front's data socket (a new front after a restart replaces the old link).
  void attach(int fd, uint32_t generation);
  bool is_open() const { return link_ && link_->is_open(); }
  void close(const std::string& why);

  // Queues one inbound message (`msg`'s root is Data.inbound, its id the ack key), on disk
  // first when journaled, and offers it now when it may go. `held`: not yet, until release()
  // (the platform looks something up first); later messages wait behind it, in order.
  void offer(capnp::MessageBuilder& msg, bool held = false);
  // A held message, rewritten with what the lookup found: it may go now.
  void release(capnp::MessageBuilder& msg);
  size_t pending() const { return pending_.size(); }
  bool full() const { return pending_.size() >= o_.max_pending; }
  // The oldest unacknowledged message's id ("" when none); every pending id, oldest first.
  std::string oldest_pending() const;
  std::vector<std::string> pending_ids() const;

  // A worker-specific message to the current front (an answer to an `other` request); false
  // when no front is there to hear it.
  bool send(capnp::MessageBuilder& msg);
  void send_status();
  void report(const Outbox::Delivery& d, const std::optional<Error>& error);
  Outbox& outbox() { return outbox_; }

 private:
  struct Pending {
    std::string id;
    kj::Array<capnp::word> words;  // the Data message
    bool held = false;
    bool sent = false;  // on the current front link
  };
  void on_front(capnp::MessageReader& r);
  void acknowledged(const std::string& id);
  void flush();

  boost::asio::io_context& io_;
  Logger& log_;
  Options o_;
  Handlers h_;
  Outbox outbox_;
  std::shared_ptr<ipc::Link> link_;
  uint32_t generation_ = 0;
  std::deque<Pending> pending_;
  std::unique_ptr<InboundJournal> journal_;
};

}  // namespace clawgate::workers
