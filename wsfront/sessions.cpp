// SessionStore: see sessions.hpp.
#include "sessions.hpp"

#include <cstdio>
#include <stdexcept>

#include "crypto.hpp"
#include "fs.hpp"

namespace clawgate::front {

SessionStore::SessionStore(std::string state_dir) : dir_(std::move(state_dir) + "/sessions") {
  make_dirs(dir_);
  if (auto text = read_file(path())) index_ = Json::parse(*text, nullptr, false);
  if (!index_.is_object()) index_ = Json::object();
}

std::string SessionStore::canonical(const std::string& key) {
  if (key == "main" || key == "agent:main") return kMainKey;
  if (key.rfind("agent:", 0) != 0 || key.size() > 512)
    throw std::invalid_argument("not a session key: " + key);
  return key;
}

std::string SessionStore::file_for(const std::string& key) const {
  std::string out;
  for (char c : key)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return dir_ + "/" + out + ".jsonl";
}

void SessionStore::save_index() {
  atomic_write_file(path(), index_.dump(1));
  dirty_ = false;
}

void SessionStore::flush() {
  if (dirty_) save_index();
}

void SessionStore::append(const std::string& key, Json entry, const Json& meta) {
  const std::string k = canonical(key);
  Json& s = index_[k];
  if (!s.contains("sessionId")) s["sessionId"] = uuid_v4();
  const int64_t ts = entry.value("ts", int64_t{0});
  AppendLog(file_for(k)).append(entry.dump(-1, ' ', false, Json::error_handler_t::replace));
  s["updatedAt"] = ts;
  s["messages"] = s.value("messages", 0) + 1;
  for (auto& [mk, mv] : meta.items()) s[mk] = mv;
  if (entry.value("role", "") == "user" || entry.value("role", "") == "assistant") {
    std::string preview = entry.value("text", "");
    if (preview.size() > 160) preview = preview.substr(0, 160) + "…";
    s["lastMessagePreview"] = preview;
  }
  dirty_ = true;
  const int64_t now = ts > 0 ? ts : last_save_ms_ + kIndexSaveMs;
  if (now - last_save_ms_ >= kIndexSaveMs) {
    save_index();
    last_save_ms_ = now;
  }
}

std::vector<Json> SessionStore::read(const std::string& key, size_t limit) const {
  std::vector<Json> all;
  for (const std::string& line : read_lines(file_for(canonical(key)))) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == "message") all.push_back(std::move(j));
  }
  if (all.size() > limit) all.erase(all.begin(), all.end() - static_cast<long>(limit));
  return all;
}

bool SessionStore::exists(const std::string& key) const {
  return index_.contains(canonical(key));
}

Json SessionStore::entry(const std::string& key) const {
  const std::string k = canonical(key);
  return index_.contains(k) ? index_[k] : Json();
}

void SessionStore::patch(const std::string& key, const Json& fields) {
  Json& s = index_[canonical(key)];
  if (!s.contains("sessionId")) s["sessionId"] = uuid_v4();
  for (auto& [k, v] : fields.items()) {
    if (k == "key" || k == "agentId") continue;
    if (v.is_null()) {
      s.erase(k);
    } else {
      s[k] = v;
    }
  }
  save_index();
}

std::string SessionStore::reset(const std::string& key, int64_t now_ms) {
  const std::string k = canonical(key);
  const std::string file = file_for(k);
  const std::string archived = file + ".reset." + std::to_string(now_ms);
  if (std::rename(file.c_str(), archived.c_str()) != 0) return "";
  Json& s = index_[k];
  s["sessionId"] = uuid_v4();
  s["messages"] = 0;
  s["updatedAt"] = now_ms;
  s.erase("lastMessagePreview");
  save_index();
  return archived;
}

std::vector<std::string> SessionStore::remove(const std::string& key, bool delete_transcript,
                                              int64_t now_ms) {
  const std::string k = canonical(key);
  std::vector<std::string> archived;
  const std::string file = file_for(k);
  if (delete_transcript) {
    std::remove(file.c_str());
  } else {
    const std::string to = file + ".deleted." + std::to_string(now_ms);
    if (std::rename(file.c_str(), to.c_str()) == 0) archived.push_back(to);
  }
  index_.erase(k);
  save_index();
  return archived;
}

}  // namespace clawgate::front
