// CronService: see cron.hpp.
#include "core/cron.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "config_gen.hpp"
#include "crypto.hpp"
#include "fs.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

// A whole non-negative decimal number of at most 9 digits, nothing else.
bool strict_int(const std::string& s, int& out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  out = std::stoi(s);
  return true;
}

// One cron field ("*", "5", "1-5", "*/15", "1,2,10-20/5") as a set of allowed values.
bool parse_field(const std::string& f, int lo, int hi, std::vector<bool>& allowed) {
  allowed.assign(static_cast<size_t>(hi + 1), false);
  std::stringstream ss(f);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int step = 1, a = lo, b = hi;
    const size_t slash = part.find('/');
    const std::string range = part.substr(0, slash);
    if (slash != std::string::npos && (!strict_int(part.substr(slash + 1), step) || step < 1))
      return false;
    if (range != "*") {
      const size_t dash = range.find('-');
      if (!strict_int(range.substr(0, dash), a)) return false;
      if (dash == std::string::npos) {
        b = slash == std::string::npos ? a : hi;
      } else if (!strict_int(range.substr(dash + 1), b)) {
        return false;
      }
    }
    if (a < lo || b > hi || a > b) return false;
    for (int64_t v = a; v <= b; v += step) allowed[static_cast<size_t>(v)] = true;
  }
  return true;
}

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Digits at the given positions of s, as a number; -1 if any is not a digit.
int digits_at(const std::string& s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<int64_t> parse_iso_time_ms(const std::string& s) {
  // YYYY-MM-DDTHH:MM:SS, then an optional fraction and Z or ±HH:MM.
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  const int y = digits_at(s, 0, 4), mo = digits_at(s, 5, 2), d = digits_at(s, 8, 2),
            h = digits_at(s, 11, 2), mi = digits_at(s, 14, 2), sec = digits_at(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
      sec > 60 || d > days_in_month(y, mo))
    return std::nullopt;
  std::string rest = s.substr(19);
  int64_t frac_ms = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t k = 1;
    int n = 0;
    while (k < rest.size() && std::isdigit(static_cast<unsigned char>(rest[k]))) {
      if (n < 3) frac_ms = frac_ms * 10 + (rest[k] - '0');
      ++n;
      ++k;
    }
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) frac_ms *= 10;
    rest = rest.substr(k);
  }
  int64_t offset_s = 0;
  if (rest == "Z" || rest == "z" || rest.empty()) {
    // UTC (no zone is taken as UTC, as upstream does for machine-written times)
  } else if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 && rest[3] == ':') {
    const int oh = digits_at(rest, 1, 2), om = digits_at(rest, 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  return (static_cast<int64_t>(timegm(&t)) - offset_s) * 1000 + frac_ms;
}

std::optional<int64_t> next_cron_ms(const std::string& expr, int64_t after_ms, bool utc) {
  std::stringstream ss(expr);
  std::vector<std::string> f;
  for (std::string x; ss >> x;) f.push_back(x);
  if (f.size() != 5) return std::nullopt;
  std::vector<bool> minute, hour, dom, month, dow;
  if (!parse_field(f[0], 0, 59, minute) || !parse_field(f[1], 0, 23, hour) ||
      !parse_field(f[2], 1, 31, dom) || !parse_field(f[3], 1, 12, month) ||
      !parse_field(f[4], 0, 7, dow))
    return std::nullopt;
  if (dow[7]) dow[0] = true;  // 7 is Sunday too
  for (const auto* set : {&minute, &hour, &dom, &month, &dow})
    if (std::find(set->begin(), set->end(), true) == set->end()) return std::nullopt;
  // As classic cron: a day field starting with "*" does not restrict (for the either-day rule).
  const bool dom_any = f[2][0] == '*', dow_any = f[4][0] == '*';
  // Hour by hour through days, months and hours that cannot match, minute by minute only inside
  // an hour that can: five years (leap days, "0 0 29 2 *") cost ~44k steps at most.
  time_t t = static_cast<time_t>(after_ms / 1000 / 60 * 60 + 60);
  const time_t end = t + time_t{5} * 366 * 86'400;
  while (t < end) {
    tm c{};
    if (utc) {
      gmtime_r(&t, &c);
    } else {
      localtime_r(&t, &c);
    }
    const bool dm = dom[static_cast<size_t>(c.tm_mday)], dw = dow[static_cast<size_t>(c.tm_wday)];
    // Standard cron: when both day fields are restricted, either may match.
    const bool day = dom_any && dow_any ? true : dom_any ? dw : dow_any ? dm : (dm || dw);
    if (!day || !month[static_cast<size_t>(c.tm_mon + 1)] ||
        !hour[static_cast<size_t>(c.tm_hour)]) {
      t += (60 - c.tm_min) * 60;  // the next hour (re-read: DST may move the clock)
      continue;
    }
    if (minute[static_cast<size_t>(c.tm_min)]) return static_cast<int64_t>(t) * 1000;
    t += 60;
  }
  return std::nullopt;
}

CronService::CronService(boost::asio::io_context& io, const Clock& clock, Logger& log,
                         const std::string& state_dir, RunManager& runs, RunManager::Emit emit,
                         const std::string& agent_config_json)
    : clock_(clock),
      log_(log),
      dir_(state_dir + "/cron"),
      runs_(runs),
      emit_(std::move(emit)),
      timer_(io),
      heartbeat_timer_(io) {
  make_dirs(dir_ + "/runs");
  runs_.on_adopt_background(
      [this](const std::string& run_id, const RunManager::Origin& origin, bool heartbeat,
             int64_t started_ms) { return adopt(run_id, origin, heartbeat, started_ms); });
  if (auto text = read_file(dir_ + "/jobs.json")) {
    const Json j = Json::parse(*text, nullptr, false);
    if (j.is_object() && j.contains("jobs") && j["jobs"].is_array()) jobs_ = j["jobs"];
  }
  // The agent sections as the supervisor checked them, read with the same generated parser.
  const Json sections = Json::parse(agent_config_json, nullptr, false);
  if (sections.is_object()) {
    cfg::Issues checked_before;
    const cfg::Config c = cfg::parse_config(sections, checked_before);
    const cfg::AgentsDefaultsHeartbeat& hb = c.agents.defaults.heartbeat;
    // At most a year: longer would overflow the timer's nanoseconds (and means "off").
    if (auto every = parse_duration_ms(hb.every))
      heartbeat_every_ms_ = std::min<int64_t>(*every, kMaxHeartbeatEveryMs);
    heartbeat_target_ = hb.target;
  }
}

void CronService::start() {
  arm();
  if (heartbeat_every_ms_ > 0) {
    heartbeat_timer_.expires_after(std::chrono::milliseconds(heartbeat_every_ms_));
    heartbeat_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) beat();
    });
  }
}

void CronService::save() {
  try {
    atomic_write_file(dir_ + "/jobs.json", dump_json(Json{{"version", 1}, {"jobs", jobs_}}, 2));
  } catch (const std::exception& e) {
    log_.error("cron", std::string("cannot save jobs: ") + e.what());
  }
}

void CronService::event(const std::string& job_id, const std::string& action, Json extra) {
  extra["jobId"] = job_id;
  extra["action"] = action;
  emit_("cron", extra, true);
}

std::optional<int64_t> CronService::next_run(const Json& job, int64_t after_ms) const {
  if (!job.value("enabled", true)) return std::nullopt;
  const Json& s = job["schedule"];
  const std::string kind = s.value("kind", "");
  if (kind == "at") {
    auto at = parse_iso_time_ms(s.value("at", ""));
    if (!at || job["state"].contains("lastRunAtMs")) return std::nullopt;  // once
    return at;
  }
  if (kind == "every") {
    const int64_t every = std::max(kMinEveryMs, s.value("everyMs", kMinEveryMs));
    const int64_t anchor = s.value("anchorMs", job.value("createdAtMs", after_ms));
    if (after_ms < anchor) return anchor;
    return anchor + ((after_ms - anchor) / every + 1) * every;
  }
  if (kind == "cron")
    return next_cron_ms(s.value("expr", ""), after_ms, s.value("tz", "") == "UTC");
  return std::nullopt;
}

void CronService::arm() {
  timer_.cancel();
  const int64_t now = clock_.wall_ms();
  int64_t soonest = now + 60'000;  // re-check every minute: wall-clock jumps are noticed
  for (const auto& j : jobs_)
    if (j["state"].contains("nextRunAtMs"))
      soonest = std::min(soonest, j["state"]["nextRunAtMs"].get<int64_t>());
  timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, soonest - now)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void CronService::tick() {
  const int64_t now = clock_.wall_ms();
  std::vector<std::string> due;
  for (auto& j : jobs_)
    if (j["state"].contains("nextRunAtMs") && j["state"]["nextRunAtMs"].get<int64_t>() <= now)
      due.push_back(j["id"]);
  for (const auto& id : due) run_job(id, "schedule");
  arm();
}

void CronService::run_job(const std::string& id, const std::string& trigger) {
  Json* jp = nullptr;
  for (auto& j : jobs_)
    if (j["id"] == id) jp = &j;
  if (!jp) return;
  Json& job = *jp;
  const int64_t now = clock_.wall_ms();
  job["state"]["lastRunAtMs"] = now;
  if (auto next = next_run(job, now)) {
    job["state"]["nextRunAtMs"] = *next;
  } else {
    job["state"].erase("nextRunAtMs");
  }
  if (running_.count(id)) {  // never stack runs of one job
    job["state"]["lastRunStatus"] = "skipped";
    record(id, {{"ts", now}, {"jobId", id}, {"status", "skipped"}, {"reason", "still running"}});
    save();
    return;
  }
  const Json payload = job["payload"];
  std::string why;
  const std::optional<SessionKey> key = session_for(job, &why);
  if (!key) {  // a jobs.json edited by hand; cron.add and cron.update refuse such targets
    job["state"]["lastRunStatus"] = "error";
    job["state"]["lastError"] = why;
    record(id, {{"ts", now}, {"jobId", id}, {"status", "error"}, {"error", why}});
    event(id, "finished", {{"status", "error"}, {"error", why}});
    save();
    return;
  }
  const std::string session = key->str();
  event(id, "started", {{"runAtMs", now}, {"sessionKey", session}});
  if (payload.value("kind", "") == "systemEvent") {
    job["state"]["lastRunStatus"] = "ok";
    event(id, "finished", {{"status", "ok"}, {"runAtMs", now}, {"durationMs", 0}});
    record(id, {{"ts", now},
                {"jobId", id},
                {"status", "ok"},
                {"trigger", trigger},
                {"summary", payload.value("text", "")}});
    save();
    return;
  }
  running_.insert(id);
  const std::string run_id = "cron:" + id + ":" + std::to_string(++counter_) + ":" + uuid_v4();
  RunManager::Origin o;
  o.kind = ipc::RunKind::CRON;
  const std::string err = runs_.start(*key, payload.value("message", ""), run_id, o,
                                      job_run_done(id, run_id, now, session, trigger));
  if (!err.empty()) {
    running_.erase(id);
    job["state"]["lastRunStatus"] = "error";
    job["state"]["lastError"] = err;
    event(id, "finished", {{"status", "error"}, {"error", err}});
  }
  save();
}

RunManager::DoneHook CronService::job_run_done(const std::string& id, const std::string& run_id,
                                               int64_t started_ms, const std::string& session,
                                               const std::string& trigger) {
  return [=](bool okay, const std::string& text, const std::string& error) {
    running_.erase(id);
    const int64_t dur = std::max<int64_t>(0, clock_.wall_ms() - started_ms);
    Json entry = {{"ts", clock_.wall_ms()},
                  {"jobId", id},
                  {"runId", run_id},
                  {"status", okay ? "ok" : "error"},
                  {"durationMs", dur},
                  {"sessionKey", session},
                  {"summary", utf8::preview(text, 200)}};
    if (trigger.empty()) {
      entry["resumed"] = true;  // finished under a front that did not start it
    } else {
      entry["trigger"] = trigger;
    }
    if (!okay) entry["error"] = error;
    record(id, entry);
    for (auto& j : jobs_) {
      if (j["id"] != id) continue;
      j["state"]["lastRunStatus"] = okay ? "ok" : "error";
      j["state"]["lastDurationMs"] = dur;
      if (okay) {
        j["state"].erase("lastError");
      } else {
        j["state"]["lastError"] = error;
      }
    }
    Json ev = {{"status", okay ? "ok" : "error"},
               {"durationMs", dur},
               {"runAtMs", started_ms},
               {"sessionKey", session},
               {"summary", utf8::preview(text, 200)}};
    if (!okay) ev["error"] = error;
    event(id, "finished", ev);
    // A one-shot job that asked for it goes once done.
    jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(),
                               [&](const Json& j) {
                                 return j["id"] == id && j.value("deleteAfterRun", false) &&
                                        !j["state"].contains("nextRunAtMs");
                               }),
                jobs_.end());
    save();
  };
}

RunManager::DoneHook CronService::heartbeat_done(int64_t started_ms) {
  return [this, started_ms](bool okay, const std::string& text, const std::string& error) {
    heartbeat_running_ = false;
    Json hb = {{"ts", clock_.wall_ms()},
               {"durationMs", std::max<int64_t>(0, clock_.wall_ms() - started_ms)}};
    if (!okay) {
      hb["status"] = "failed";
      hb["reason"] = error;
      hb["indicatorType"] = "error";
    } else if (text.find("HEARTBEAT_OK") != std::string::npos) {
      hb["status"] = "ok-token";
      hb["indicatorType"] = "ok";
    } else if (text.empty()) {
      hb["status"] = "ok-empty";
      hb["indicatorType"] = "ok";
    } else {
      hb["status"] = heartbeat_target_ == "none" ? "skipped" : "sent";
      hb["preview"] = utf8::preview(text, 200);
      hb["indicatorType"] = "alert";
    }
    if (on_heartbeat) on_heartbeat(hb);
    emit_("heartbeat", hb, true);
  };
}

// A run this service started under an earlier front, adopted by this one: it finishes here
// as it would have there, and counts as running until then (no second run of its job, no
// heartbeat on top of it). Cron run ids are "cron:<job id>:<n>:<uuid>" (run_job).
RunManager::DoneHook CronService::adopt(const std::string& run_id, const RunManager::Origin& origin,
                                        bool heartbeat, int64_t started_ms) {
  if (heartbeat) {
    heartbeat_running_ = true;
    return heartbeat_done(started_ms);
  }
  if (origin.kind != ipc::RunKind::CRON || run_id.rfind("cron:", 0) != 0) return nullptr;
  const size_t uuid_at = run_id.rfind(':');
  const size_t n_at = uuid_at == std::string::npos ? uuid_at : run_id.rfind(':', uuid_at - 1);
  if (n_at == std::string::npos || n_at < 5) return nullptr;
  const std::string id = run_id.substr(5, n_at - 5);
  const Json* job = nullptr;
  for (const auto& j : jobs_)
    if (j.value("id", "") == id) job = &j;
  if (!job) return nullptr;  // removed meanwhile: its answer is stored, nobody else waits
  std::string why;
  const auto key = session_for(*job, &why);
  running_.insert(id);
  log_.info("cron", "job " + id + ": run " + run_id + " resumed after a front restart");
  return job_run_done(id, run_id, started_ms, key ? key->str() : "", "");
}

std::optional<SessionKey> CronService::session_for(const Json& job, std::string* why) {
  // Read with care: jobs.json may have been edited by hand.
  const auto text = [&](const char* field, const char* absent) {
    const auto it = job.find(field);
    return it == job.end() ? std::string(absent) : it->is_string() ? it->get<std::string>() : "";
  };
  const std::string target = text("sessionTarget", "main");
  if (target == "isolated") return SessionKey::for_cron_job(text("id", ""), why);
  // "session:<key>": a session of the caller's choosing, any key a client may name.
  if (target.rfind("session:", 0) == 0) return SessionKey::parse(target.substr(8), why);
  return SessionKey::main();  // "main", "current"
}

void CronService::record(const std::string& id, const Json& entry) {
  try {
    const std::string path = dir_ + "/runs/" + id + ".jsonl";
    AppendLog log(path);
    log.append(dump_json(entry));
    if (log.size() > 256 * 1024) {  // keep the newest kRunsKept
      auto lines = read_lines(path);
      if (lines.size() > kRunsKept) lines.erase(lines.begin(), lines.end() - kRunsKept);
      std::string content;
      for (const auto& l : lines) content += l + "\n";
      log.rewrite(content);
    }
  } catch (const std::exception& e) {
    log_.error("cron", std::string("cannot record a run: ") + e.what());
  }
}

void CronService::beat() {
  heartbeat_timer_.expires_after(std::chrono::milliseconds(heartbeat_every_ms_));
  heartbeat_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) beat();
  });
  const int64_t started = clock_.wall_ms();
  if (heartbeat_running_) {
    const Json hb = {{"ts", started}, {"status", "skipped"}, {"reason", "previous still running"}};
    if (on_heartbeat) on_heartbeat(hb);
    emit_("heartbeat", hb, true);
    return;
  }
  heartbeat_running_ = true;
  RunManager::Origin o;
  o.kind = ipc::RunKind::HEARTBEAT;
  const std::string err = runs_.start(SessionKey::main(), kHeartbeatPrompt,
                                      "heartbeat:" + uuid_v4(), o, heartbeat_done(started),
                                      /*is_heartbeat=*/true);
  if (!err.empty()) {
    heartbeat_running_ = false;
    const Json hb = {{"ts", started}, {"status", "failed"}, {"reason", err}};
    if (on_heartbeat) on_heartbeat(hb);
    emit_("heartbeat", hb, true);
  }
}

Json* CronService::find(const std::string& id) {
  for (auto& j : jobs_)
    if (j["id"] == id) return &j;
  return nullptr;
}

namespace {
// The job update, remove, run and runs name: by id, else by jobId (both are accepted).
template <typename Params>
std::string job_ref(const Params& p) {
  return p.id ? *p.id : p.job_id.value_or("");
}
}  // namespace

const CronService::Route* CronService::route(schema::Method m) {
  using M = schema::Method;
  namespace P = schema::params;
  static const Reply kNoJob = Reply::invalid("no such cron job");
  static const Route kRoutes[] = {
      {M::cron_list,
       [](CronService& c, const Json& params) { return c.m_list(params.get<P::CronList>()); }},
      {M::cron_add, [](CronService& c,
                       const Json& params) { return c.m_add(params.get<P::CronAdd>(), params); }},
      {M::cron_update,
       [](CronService& c, const Json& params) {
         const auto p = params.get<P::CronUpdate>();
         Json* job = c.find(job_ref(p));
         return job ? c.m_update(*job, p) : kNoJob;
       }},
      {M::cron_remove,
       [](CronService& c, const Json& params) {
         Json* job = c.find(job_ref(params.get<P::CronRemove>()));
         return job ? c.m_remove((*job)["id"].get<std::string>()) : kNoJob;
       }},
      {M::cron_run,
       [](CronService& c, const Json& params) {
         const auto p = params.get<P::CronRun>();
         Json* job = c.find(job_ref(p));
         return job ? c.m_run(*job, p) : kNoJob;
       }},
      {M::cron_runs,
       [](CronService& c, const Json& params) {
         const auto p = params.get<P::CronRuns>();
         Json* job = c.find(job_ref(p));
         return job ? c.m_runs((*job)["id"].get<std::string>(), p) : kNoJob;
       }},
  };
  for (const Route& r : kRoutes)
    if (r.method == m) return &r;
  return nullptr;
}

bool CronService::serves(schema::Method m) {
  return route(m) != nullptr;
}

bool CronService::call(schema::Method method, const Json& params, const ReplyFn& reply) {
  const Route* r = route(method);
  if (!r) return false;
  reply(r->handler(*this, params));
  return true;
}

Reply CronService::m_list(const schema::params::CronList& p) const {
  const bool all = p.include_disabled || p.enabled == "all";
  const std::string query = p.query.value_or("");
  Json jobs = Json::array();
  for (const auto& j : jobs_) {
    if (!all && !j.value("enabled", true)) continue;
    if (!query.empty() && j.value("name", "").find(query) == std::string::npos) continue;
    jobs.push_back(j);
  }
  const size_t total = jobs.size();
  // The schema bounds limit (1..200) and offset (>= 0); offset may still be past the end.
  const size_t offset = static_cast<size_t>(std::clamp<int64_t>(p.offset, 0, total));
  const size_t limit = static_cast<size_t>(p.limit);
  Json page(jobs.begin() + static_cast<long>(offset),
            jobs.begin() + static_cast<long>(std::min(total, offset + limit)));
  return Reply::ok({{"jobs", page}, {"total", total}});
}

Reply CronService::m_add(const schema::params::CronAdd& p, Json job) {
  if (jobs_.size() >= kMaxJobs)
    return Reply::invalid("too many cron jobs (" + std::to_string(kMaxJobs) + ")");
  const int64_t now = clock_.wall_ms();
  job["id"] = uuid_v4();
  job["enabled"] = p.enabled;
  job["createdAtMs"] = job["updatedAtMs"] = now;
  job["state"] = Json::object();
  // schedule is one of several object shapes (Json); the schema made each a string.
  const std::string kind = p.schedule.value("kind", "");
  if (kind == "at" && !parse_iso_time_ms(p.schedule.value("at", "")))
    return Reply::invalid("schedule.at must be an ISO 8601 date-time");
  if (kind == "cron" && !next_cron_ms(p.schedule.value("expr", ""), now, true))
    return Reply::invalid("schedule.expr must be a 5-field cron expression");
  if (std::string why; !session_for(job, &why)) return Reply::invalid("sessionTarget: " + why);
  if (auto next = next_run(job, now)) job["state"]["nextRunAtMs"] = *next;
  jobs_.push_back(job);
  save();
  event(job["id"], "added", {{"nextRunAtMs", job["state"].value("nextRunAtMs", Json())}});
  arm();
  return Reply::ok(job);
}

Reply CronService::m_update(Json& job, const schema::params::CronUpdate& p) {
  const int64_t now = clock_.wall_ms();
  Json patched = job;
  for (auto& [k, v] : p.patch.items()) {
    if (v.is_null()) {
      patched.erase(k);
    } else {
      patched[k] = v;
    }
  }
  if (std::string why; !session_for(patched, &why)) return Reply::invalid("sessionTarget: " + why);
  job = std::move(patched);
  job["updatedAtMs"] = now;
  if (auto next = next_run(job, now)) {
    job["state"]["nextRunAtMs"] = *next;
  } else {
    job["state"].erase("nextRunAtMs");
  }
  const Json updated = job;  // save() and arm() may reorder jobs_
  save();
  event(updated["id"], "updated");
  arm();
  return Reply::ok(updated);
}

Reply CronService::m_remove(const std::string& id) {
  jobs_.erase(
      std::remove_if(jobs_.begin(), jobs_.end(), [&](const Json& j) { return j["id"] == id; }),
      jobs_.end());
  save();
  event(id, "removed");
  arm();
  return Reply::ok({{"ok", true}, {"removed", true}});
}

Reply CronService::m_run(const Json& job, const schema::params::CronRun& p) {
  const std::string& mode = p.mode;
  const bool due = job["state"].contains("nextRunAtMs") &&
                   job["state"]["nextRunAtMs"].get<int64_t>() <= clock_.wall_ms();
  if ((mode == "due" && !due) || (mode == "if-enabled" && !job.value("enabled", true)))
    return Reply::ok(
        {{"ok", true}, {"ran", false}, {"reason", mode == "due" ? "not-due" : "disabled"}});
  run_job(job["id"], "manual");  // job may not outlive this: run_job changes jobs_
  arm();
  return Reply::ok({{"ok", true}, {"ran", true}});
}

Reply CronService::m_runs(const std::string& id, const schema::params::CronRuns& p) const {
  auto lines = read_lines(dir_ + "/runs/" + id + ".jsonl");
  const size_t limit = static_cast<size_t>(p.limit);
  Json entries = Json::array();
  for (auto it = lines.rbegin(); it != lines.rend() && entries.size() < limit; ++it) {
    Json e = Json::parse(*it, nullptr, false);
    if (e.is_object()) entries.push_back(e);
  }
  return Reply::ok({{"entries", entries}});
}

}  // namespace clawgate::core
