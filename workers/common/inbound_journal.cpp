// InboundJournal: see inbound_journal.hpp.
#include "inbound_journal.hpp"

#include <capnp/serialize.h>

#include <algorithm>
#include <deque>

#include "contract.hpp"
#include "names.hpp"
#include "utf8.hpp"

namespace clawgate::workers {

namespace {

using Json = nlohmann::json;

constexpr size_t kCompactBytes = 4u << 20;   // past this, the file is rewritten with what waits
constexpr size_t kMaxTextBytes = 64 * 1024;  // every worker cuts inbound text there
constexpr size_t kMaxFieldBytes = 1024;      // ids and names: far above any platform's

// The string fields of Inbound besides text, by their schema names.
struct StringField {
  const char* key;
  capnp::Text::Reader (ipc::Inbound::Reader::*get)() const;
  void (ipc::Inbound::Builder::*set)(capnp::Text::Reader);
};
const StringField kStrings[] = {
    {"id", &ipc::Inbound::Reader::getId, &ipc::Inbound::Builder::setId},
    {"chatId", &ipc::Inbound::Reader::getChatId, &ipc::Inbound::Builder::setChatId},
    {"senderId", &ipc::Inbound::Reader::getSenderId, &ipc::Inbound::Builder::setSenderId},
    {"senderName", &ipc::Inbound::Reader::getSenderName, &ipc::Inbound::Builder::setSenderName},
    {"senderUsername", &ipc::Inbound::Reader::getSenderUsername,
     &ipc::Inbound::Builder::setSenderUsername},
    {"messageId", &ipc::Inbound::Reader::getMessageId, &ipc::Inbound::Builder::setMessageId},
    {"groupId", &ipc::Inbound::Reader::getGroupId, &ipc::Inbound::Builder::setGroupId},
    {"threadId", &ipc::Inbound::Reader::getThreadId, &ipc::Inbound::Builder::setThreadId},
    {"parentChatId", &ipc::Inbound::Reader::getParentChatId,
     &ipc::Inbound::Builder::setParentChatId},
};
// Written always, read when present (a journal from before they existed lacks them).
const StringField kOptionalStrings[] = {
    {"groupName", &ipc::Inbound::Reader::getGroupName, &ipc::Inbound::Builder::setGroupName},
    {"chatName", &ipc::Inbound::Reader::getChatName, &ipc::Inbound::Builder::setChatName},
    {"parentChatName", &ipc::Inbound::Reader::getParentChatName,
     &ipc::Inbound::Builder::setParentChatName},
};

struct BoolField {
  const char* key;
  bool (ipc::Inbound::Reader::*get)() const;
  void (ipc::Inbound::Builder::*set)(bool);
};
const BoolField kBools[] = {
    {"wasMentioned", &ipc::Inbound::Reader::getWasMentioned,
     &ipc::Inbound::Builder::setWasMentioned},
    {"replyToBot", &ipc::Inbound::Reader::getReplyToBot, &ipc::Inbound::Builder::setReplyToBot},
    {"botCommand", &ipc::Inbound::Reader::getBotCommand, &ipc::Inbound::Builder::setBotCommand},
    {"senderIsBot", &ipc::Inbound::Reader::getSenderIsBot, &ipc::Inbound::Builder::setSenderIsBot},
};

std::string bounded(const Json& v, size_t max) {
  return utf8::truncate_bytes(utf8::repair(v.get_ref<const std::string&>()), max);
}

std::string add_line(ipc::Inbound::Reader m) {
  return dump_json(Json{{"add", inbound_to_json(m)}});
}

}  // namespace

Json inbound_to_json(ipc::Inbound::Reader m) {
  Json j = Json::object();
  for (const StringField& f : kStrings) j[f.key] = std::string((m.*f.get)().cStr());
  for (const StringField& f : kOptionalStrings) j[f.key] = std::string((m.*f.get)().cStr());
  j["text"] = std::string(m.getText().cStr());
  const char* type = ipc::name_of(m.getChatType());
  j["chatType"] = type ? type : "";
  j["tsMs"] = m.getTsMs();
  for (const BoolField& f : kBools) j[f.key] = (m.*f.get)();
  Json roles = Json::array();
  for (auto r : m.getSenderRoles()) roles.push_back(std::string(r.cStr()));
  j["senderRoles"] = std::move(roles);
  return j;
}

bool inbound_from_json(const Json& j, ipc::Inbound::Builder out) {
  if (!j.is_object()) return false;
  for (const StringField& f : kStrings) {
    const auto it = j.find(f.key);
    if (it == j.end() || !it->is_string()) return false;
    (out.*f.set)(bounded(*it, kMaxFieldBytes));
  }
  if (out.getId().size() == 0) return false;  // nothing to acknowledge it by
  for (const StringField& f : kOptionalStrings)
    if (const auto it = j.find(f.key); it != j.end() && it->is_string())
      (out.*f.set)(bounded(*it, kMaxFieldBytes));
  const auto text = j.find("text");
  if (text == j.end() || !text->is_string()) return false;
  out.setText(bounded(*text, kMaxTextBytes));
  const auto type = j.find("chatType");
  if (type == j.end() || !type->is_string()) return false;
  if (*type == "direct")
    out.setChatType(ipc::ChatType::DIRECT);
  else if (*type == "group")
    out.setChatType(ipc::ChatType::GROUP);
  else if (*type == "channel")
    out.setChatType(ipc::ChatType::CHANNEL);
  else
    return false;
  const auto ts = j.find("tsMs");
  if (ts != j.end() && ts->is_number_integer() && !ts->is_number_unsigned())
    out.setTsMs(ts->get<int64_t>());
  for (const BoolField& f : kBools) {
    const auto it = j.find(f.key);
    (out.*f.set)(it != j.end() && it->is_boolean() && it->get<bool>());
  }
  const auto roles = j.find("senderRoles");
  if (roles != j.end() && roles->is_array()) {
    std::vector<std::string> kept;
    for (const Json& r : *roles)
      if (r.is_string() && kept.size() < ipc::contract::lists::kSenderRoles)
        kept.push_back(bounded(r, kMaxFieldBytes));
    auto list = out.initSenderRoles(static_cast<unsigned>(kept.size()));
    for (unsigned i = 0; i < kept.size(); ++i) list.set(i, kept[i]);
  }
  return true;
}

InboundJournal::InboundJournal(const std::string& path, size_t max) {
  std::deque<std::pair<std::string, kj::Array<capnp::word>>> pending;  // id, Data message
  for (const std::string& line : read_lines(path)) {
    const Json j = Json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    if (const auto add = j.find("add"); add != j.end()) {
      capnp::MallocMessageBuilder b;
      auto in = b.initRoot<ipc::Data>().initInbound();
      if (!inbound_from_json(*add, in)) continue;
      // The same id again: the message as a lookup completed it (FrontLink::release), in place.
      const std::string id = in.getId().cStr();
      const auto same = std::find_if(pending.begin(), pending.end(),
                                     [&](const auto& p) { return p.first == id; });
      if (same != pending.end()) {
        same->second = capnp::messageToFlatArray(b);
        continue;
      }
      pending.emplace_back(id, capnp::messageToFlatArray(b));
      if (pending.size() > max) pending.pop_front();
    } else if (const auto ack = j.find("ack"); ack != j.end() && ack->is_string()) {
      const std::string id = *ack;
      pending.erase(std::remove_if(pending.begin(), pending.end(),
                                   [&](const auto& p) { return p.first == id; }),
                    pending.end());
    }
  }
  log_ = std::make_unique<AppendLog>(path);
  std::string content;
  for (auto& [id, words] : pending) {
    capnp::FlatArrayMessageReader r(words);
    content += add_line(r.getRoot<ipc::Data>().getInbound()) + "\n";
    loaded_.push_back(std::move(words));
  }
  log_->rewrite(content);  // starts from exactly what is pending
}

bool InboundJournal::add(ipc::Inbound::Reader m) {
  try {
    log_->append(add_line(m));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool InboundJournal::ack(const std::string& id, const std::vector<ipc::Inbound::Reader>& pending) {
  try {
    if (pending.empty()) {
      log_->rewrite("");
    } else if (log_->size() > kCompactBytes) {
      std::string content;
      for (const auto& m : pending) content += add_line(m) + "\n";
      log_->rewrite(content);
    } else {
      log_->append(dump_json(Json{{"ack", id}}));
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace clawgate::workers
