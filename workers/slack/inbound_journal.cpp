// InboundJournal: see inbound_journal.hpp.
#include "inbound_journal.hpp"

#include <algorithm>

#include "utf8.hpp"

namespace clawgate::workers::slack {

namespace {

constexpr size_t kCompactBytes = 4u << 20;  // past this, the file is rewritten with what waits

const char* kind_name(ConvKind k) {
  switch (k) {
    case ConvKind::im:
      return "im";
    case ConvKind::mpim:
      return "mpim";
    case ConvKind::channel:
      return "channel";
    case ConvKind::group:
      return "group";
    case ConvKind::unknown:
      break;
  }
  return "";
}

bool bool_at(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

nlohmann::json message_to_json(const SlackMessage& m) {
  return {{"event_id", m.event_id},   {"channel", m.channel},
          {"user", m.user},           {"ts", m.ts},
          {"thread_ts", m.thread_ts}, {"client_msg_id", m.client_msg_id},
          {"team", m.team},           {"kind", kind_name(m.kind)},
          {"text", m.text},           {"from_bot", m.from_bot},
          {"mentioned", m.mentioned}, {"reply_to_bot", m.reply_to_bot}};
}

std::optional<SlackMessage> message_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  SlackMessage m;
  const auto channel = slack_id(j, "channel"), user = slack_id(j, "user");
  const auto ts = slack_ts(j, "ts");
  const auto text = j.find("text");
  if (!channel || !user || !ts || text == j.end() || !text->is_string()) return std::nullopt;
  m.channel = *channel;
  m.user = *user;
  m.ts = *ts;
  m.ts_ms = ts_to_ms(m.ts);
  m.thread_ts = slack_ts(j, "thread_ts").value_or("");
  m.team = slack_id(j, "team").value_or("");
  const auto str = [&](const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string()
               ? utf8::truncate_bytes(utf8::repair(it->get_ref<const std::string&>()), 64)
               : std::string();
  };
  m.event_id = str("event_id");
  m.client_msg_id = str("client_msg_id");
  m.kind = conv_kind_from_type(str("kind"));
  if (m.kind == ConvKind::unknown) m.kind = ConvKind::group;  // the stricter rules
  m.text =
      utf8::truncate_bytes(utf8::repair(text->get_ref<const std::string&>()), kMaxInboundTextBytes);
  m.from_bot = bool_at(j, "from_bot");
  m.mentioned = bool_at(j, "mentioned");
  m.reply_to_bot = bool_at(j, "reply_to_bot");
  return m;
}

InboundJournal::InboundJournal(const std::string& path, size_t max) {
  std::deque<SlackMessage> pending;
  for (const std::string& line : read_lines(path)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    if (const auto add = j.find("add"); add != j.end()) {
      if (auto m = message_from_json(*add)) {
        pending.push_back(std::move(*m));
        if (pending.size() > max) pending.pop_front();
      }
    } else if (const auto ack = j.find("ack"); ack != j.end() && ack->is_string()) {
      const std::string id = *ack;
      pending.erase(std::remove_if(pending.begin(), pending.end(),
                                   [&](const SlackMessage& m) { return message_key(m) == id; }),
                    pending.end());
    }
  }
  loaded_.assign(std::make_move_iterator(pending.begin()), std::make_move_iterator(pending.end()));
  log_ = std::make_unique<AppendLog>(path);
  std::string content;
  for (const SlackMessage& m : loaded_)
    content += dump_json(nlohmann::json{{"add", message_to_json(m)}}) + "\n";
  log_->rewrite(content);  // starts from exactly what is pending
}

bool InboundJournal::add(const SlackMessage& m) {
  try {
    log_->append(dump_json(nlohmann::json{{"add", message_to_json(m)}}));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool InboundJournal::ack(const std::string& id, const std::vector<const SlackMessage*>& pending) {
  try {
    if (pending.empty()) {
      log_->rewrite("");
    } else if (log_->size() > kCompactBytes) {
      std::string content;
      for (const SlackMessage* m : pending)
        content += dump_json(nlohmann::json{{"add", message_to_json(*m)}}) + "\n";
      log_->rewrite(content);
    } else {
      log_->append(dump_json(nlohmann::json{{"ack", id}}));
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace clawgate::workers::slack
