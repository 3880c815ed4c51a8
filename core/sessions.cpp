// SessionStore: see sessions.hpp.
#include "core/sessions.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "crypto.hpp"
#include "fs.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

// The file name transcripts had before names were made injective (':' and every other
// character but [A-Za-z0-9-] became '_', so "agent:main_main" shared main's file).
std::string legacy_file_name(std::string_view key) {
  std::string out;
  for (char c : key)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  return out + ".jsonl";
}

}  // namespace

std::string SessionStore::file_name(std::string_view key) {
  // Injective: [A-Za-z0-9-] stand for themselves, ':' (in every key) becomes '_', and every
  // other byte, '_' included, becomes %XX. Names that would pass 200 bytes keep a readable
  // prefix and end in '~' + the key's SHA-256 ('~' is never produced by the escaping).
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-') {
      out.push_back(static_cast<char>(c));
    } else if (c == ':') {
      out.push_back('_');
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (out.size() > 200) out = out.substr(0, 100) + "~" + sha256_hex(key);
  return out + ".jsonl";
}

SessionStore::SessionStore(std::string state_dir) : dir_(std::move(state_dir) + "/sessions") {
  make_dirs(dir_);
  if (auto text = read_file(path())) index_ = Json::parse(*text, nullptr, false);
  if (!index_.is_object()) index_ = Json::object();
  migrate_file_names();
  canonicalize_keys();
}

void SessionStore::migrate_file_names() {
  // A transcript under its legacy name moves to its injective name, unless two sessions
  // claim the same legacy file (then nobody can tell whose it is: it stays, untouched).
  std::map<std::string, int> claims;
  for (const auto& [key, _] : index_.items()) ++claims[legacy_file_name(key)];
  for (const auto& [key, _] : index_.items()) {
    const std::string legacy = dir_ + "/" + legacy_file_name(key), now = file_for(key);
    if (legacy == now || claims[legacy_file_name(key)] != 1) continue;
    struct stat st {};
    if (::stat(now.c_str(), &st) == 0 || ::stat(legacy.c_str(), &st) != 0) continue;
    std::rename(legacy.c_str(), now.c_str());
  }
}

void SessionStore::canonicalize_keys() {
  // Keys stored before keys were canonical: "agent:main:Foo" (case kept then), "agent:x" or
  // "agent:main:" (accepted then, malformed now), agent ids with other characters. Each moves,
  // with its transcript, to its canonical key, or, when that is taken (already canonical, or an
  // earlier key moved there) or there is none, to agent:main:legacy-key-<n> with its old key as
  // "legacyKey", so no conversation becomes unreachable. Sorted order: the same outcome on every
  // start, so a crash between the renames and the index write is finished on the next one.
  std::vector<std::string> moving;
  for (const auto& [key, _] : index_.items()) {
    const auto k = SessionKey::parse(key);
    if (!k || k->str() != key) moving.push_back(key);
  }
  if (moving.empty()) return;
  size_t n = 0;
  for (const auto& old : moving) {
    const auto k = SessionKey::parse(old);
    std::string target = k ? k->str() : "";
    const bool quarantined = !k || index_.contains(target);
    if (quarantined) {
      do {
        target = SessionKey::parse("legacy-key-" + std::to_string(++n))->str();
      } while (index_.contains(target));
    }
    // The transcript first: while the index still names the old key, the next start finds it.
    const std::string from = file_for(old), to = file_for(target);
    struct stat st {};
    if (::stat(from.c_str(), &st) == 0) {
      if (::stat(to.c_str(), &st) == 0) continue;  // a transcript is there already: keep both
      if (std::rename(from.c_str(), to.c_str()) != 0) continue;  // tried again next start
    }
    Json entry = std::move(index_[old]);
    index_.erase(old);
    if (quarantined && entry.is_object()) entry["legacyKey"] = old;
    index_[target] = std::move(entry);
  }
  save_index();
}

std::string SessionStore::file_for(std::string_view key) const {
  return dir_ + "/" + file_name(key);
}

void SessionStore::save_index() {
  atomic_write_file(path(), dump_json(index_, 1));
  dirty_ = false;
}

void SessionStore::flush() {
  if (dirty_) save_index();
}

void SessionStore::append(const SessionKey& key, Json entry, const Json& meta) {
  const std::string& k = key.str();
  Json& s = index_[k];
  if (!s.contains("sessionId")) s["sessionId"] = uuid_v4();
  const int64_t ts = entry.value("ts", int64_t{0});
  AppendLog log(file_for(k));
  const uint64_t offset = log.size();  // where this line starts: the history index keys on it
  log.append(dump_json(entry));
  history_.appended(k, entry, offset);
  s["updatedAt"] = ts;
  // Only messages count: a queued record is counted when its turn makes it one.
  if (entry.value("type", "") == "message") s["messages"] = s.value("messages", 0) + 1;
  for (auto& [mk, mv] : meta.items()) s[mk] = mv;
  if ((entry.value("role", "") == "user" || entry.value("role", "") == "assistant") &&
      !entry.contains("toolCalls")) {
    s["lastMessagePreview"] = utf8::preview(entry.value("text", ""), kPreviewChars);
  }
  if (!dirty_ && on_dirty) on_dirty();
  dirty_ = true;
  const int64_t now = ts > 0 ? ts : last_save_ms_ + kIndexSaveMs;
  if (now - last_save_ms_ >= kIndexSaveMs) {
    save_index();
    last_save_ms_ = now;
  }
}

std::vector<Json> SessionStore::read(const SessionKey& key, size_t limit, bool waiting) const {
  // From the tail: the newest `limit` messages cost the same in a transcript of any length.
  // Read backwards, a queued record is met after whatever took it (its turn, a collected turn,
  // a withdrawal), so one set of the ids seen so far tells which records still wait.
  std::vector<Json> out;
  std::set<std::string> taken;
  auto id_of = [](const Json& j, const char* field) {
    const Json v = j.value(field, Json());
    return v.is_string() ? v.get<std::string>() : std::string();
  };
  const auto lines = read_last_lines(
      file_for(key.str()),
      [&](const std::string& line) {
        Json j = Json::parse(line, nullptr, false);
        if (!j.is_object()) return false;
        const std::string type = j.value("type", "");
        if (waiting && (type == "message" || type == "withdrawn")) {
          for (const char* f : {"runId", "inboundId"})
            if (auto id = id_of(j, f); !id.empty()) taken.insert(id);
          const Json q = j.value("queued", Json());
          if (q.is_array())
            for (const auto& id : q)
              if (id.is_string()) taken.insert(id.get<std::string>());
        }
        if (waiting && type == "queued") {
          for (const char* f : {"runId", "inboundId"})
            if (auto id = id_of(j, f); !id.empty() && taken.count(id)) return false;
          out.push_back(std::move(j));
          return true;
        }
        if (type != "message") return false;
        out.push_back(std::move(j));
        return true;
      },
      limit);
  std::reverse(out.begin(), out.end());  // collected newest first
  return out;
}

const SessionHistory& SessionStore::history(const SessionKey& key) {
  return history_.get(key.str(), file_for(key.str()));
}

bool SessionStore::exists(const SessionKey& key) const {
  return index_.contains(key.str());
}

Json SessionStore::entry(const SessionKey& key) const {
  return index_.contains(key.str()) ? index_[key.str()] : Json();
}

void SessionStore::patch(const SessionKey& key, const Json& fields) {
  Json& s = index_[key.str()];
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

std::string SessionStore::reset(const SessionKey& key, int64_t now_ms) {
  const std::string& k = key.str();
  const std::string file = file_for(k);
  const std::string archived = file + ".reset." + std::to_string(now_ms);
  history_.forget(k);
  if (std::rename(file.c_str(), archived.c_str()) != 0) return "";
  Json& s = index_[k];
  s["sessionId"] = uuid_v4();
  s["messages"] = 0;
  s["updatedAt"] = now_ms;
  s.erase("lastMessagePreview");
  save_index();
  return archived;
}

std::vector<std::string> SessionStore::remove(const SessionKey& key, bool delete_transcript,
                                              int64_t now_ms) {
  const std::string& k = key.str();
  std::vector<std::string> archived;
  const std::string file = file_for(k);
  if (delete_transcript) {
    std::remove(file.c_str());
  } else {
    const std::string to = file + ".deleted." + std::to_string(now_ms);
    if (std::rename(file.c_str(), to.c_str()) == 0) archived.push_back(to);
  }
  history_.forget(k);
  index_.erase(k);
  save_index();
  return archived;
}

}  // namespace clawgate::core
