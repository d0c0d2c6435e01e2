// SPDX-License-Identifier: GPL-2.0-or-later
// The delivery client. Commands and the replies they expect travel through two queues:
// `to_send` (not yet on the wire) and `expect` (on the wire, reply pending). With PIPELINING
// everything queued goes out at once; without, one command waits for the previous reply.
// Host callbacks are made last in each step, with the state already consistent, because the
// host reacts inside them (OnReady -> Send, WantContent -> SendContent/EndContent).
#include "net/smtp_client_session.h"

#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "net/smtp_command.h"
#include "net/smtp_reply_parser.h"

namespace kensa::net {
namespace {

using Outcome = RecipientResult::Outcome;

// BDAT chunks are coalesced up to this size: fewer round trips for hosts that feed small
// pieces, while a chunk never holds more than this much of the message in memory.
constexpr size_t kBdatChunk = 64 * 1024;

RecipientResult ResultOf(const ServerReply& r) {
  RecipientResult res;
  res.code = r.code;
  res.enhanced = r.enhanced;
  res.text = r.text;
  res.outcome = r.code >= 200 && r.code < 300   ? Outcome::kDelivered
                : r.code >= 500 && r.code < 600 ? Outcome::kPermFail
                                                : Outcome::kTempFail;
  return res;
}

RecipientResult Local(Outcome o, std::string enhanced, std::string text) {
  RecipientResult r;
  r.outcome = o;
  r.code = 0;
  r.enhanced = std::move(enhanced);
  r.text = std::move(text);
  return r;
}

std::string Describe(const ServerReply& r) {
  return absl::StrCat(r.code, r.enhanced.empty() ? "" : " ", r.enhanced, " ", r.text);
}

// RFC 3461 xtext ("+" and two uppercase hex digits) for values kensa holds decoded (ENVID).
std::string EncodeXtext(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c < 33 || c > 126 || c == '+' || c == '=') {
      out.push_back('+');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// ORCPT is stored as the client sent it (addr-type ";" xtext): passed on unchanged when it
// is valid xtext, encoded when it is not (re-encoding valid xtext would double the "+").
std::string OrcptParam(std::string_view orcpt) {
  size_t semi = orcpt.find(';');
  if (semi == std::string_view::npos || semi == 0) return "";
  std::string_view type = orcpt.substr(0, semi), value = orcpt.substr(semi + 1);
  for (char c : type) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-';
    if (!ok) return "";
  }
  if (DecodeXtext(value).has_value()) return std::string(orcpt);
  return absl::StrCat(std::string(type), ";", EncodeXtext(value));
}

// NOTIFY=NEVER or a comma list of SUCCESS/FAILURE/DELAY: anything else is not passed on.
bool SafeNotify(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ',')) return false;
  }
  return true;
}

}  // namespace

struct SmtpClientSession::State {
  enum class Stage {
    kGreeting, kEhlo, kHelo, kStartTls, kTlsHandshake, kReady, kTransaction, kQuit, kDone
  };
  enum class Expect { kGreeting, kEhlo, kHelo, kStartTls, kMail, kRcpt, kData, kBdat,
                      kBdatLast, kDot, kRset, kQuit };
  struct Pending {
    Expect what;
    size_t index = 0;  // recipient index for kRcpt
  };
  struct Queued {
    std::string line;
    Pending pending;
  };

  SmtpClientConfig config;
  SmtpClientHost* host;
  SmtpReplyParser parser;
  Stage stage = Stage::kGreeting;
  std::deque<Pending> expect;
  std::deque<Queued> to_send;
  bool in_tls = false;

  // server capabilities (from the last EHLO)
  bool pipelining = false, chunking = false, dsn = false, smtputf8 = false, eightbit = false,
       starttls = false, size_ext = false;
  uint64_t max_size = 0;  // 0: no limit announced

  // the transaction
  size_t recipients = 0;
  std::vector<std::optional<RecipientResult>> results;
  std::vector<size_t> accepted;  // RCPT said 2xx; their result comes from the data reply
  std::optional<RecipientResult> mail_failed;
  std::optional<RecipientResult> data_failed;
  bool content_requested = false;
  bool content_ended = false;
  bool use_bdat = false;
  bool at_line_start = true;
  char last_two[2] = {0, 0};
  uint64_t content_bytes = 0;
  size_t dot_replies_left = 0;
  size_t bdat_outstanding = 0;  // non-LAST BDAT replies still owed
  std::string bdat_buf;

  State(const SmtpClientConfig& c, SmtpClientHost* h)
      : config(c), host(h), parser(c.max_reply_line_bytes, c.max_reply_lines) {
    expect.push_back({Expect::kGreeting});
  }

  void Send(std::string line, Pending p) {
    to_send.push_back({std::move(line), p});
    Flush();
  }

  // Puts queued commands on the wire: all of them with PIPELINING, else one at a time.
  void Flush() {
    std::string out;
    bool nothing_accepted = false;
    while (!to_send.empty() && (expect.empty() || pipelining)) {
      if (to_send.front().pending.what == Expect::kData && !pipelining && accepted.empty()) {
        // Without pipelining DATA waits for the RCPT replies; none accepted, so no DATA.
        to_send.clear();
        nothing_accepted = true;
        break;
      }
      Queued q = std::move(to_send.front());
      to_send.pop_front();
      out += q.line;
      expect.push_back(q.pending);
    }
    if (!out.empty()) host->SendToServer(out);
    if (nothing_accepted) FinishTransaction(true);
  }

  void Fail(const std::string& why, const ServerReply* r) {
    if (stage == Stage::kDone) return;
    stage = Stage::kDone;
    // Whatever the server said, the next attempt may go better (another connection, another
    // time): a session failure never bounces mail by itself.
    RecipientResult res = r != nullptr && r->code >= 400
                              ? ResultOf(*r)
                              : Local(Outcome::kTempFail, "4.4.2", why);
    res.outcome = Outcome::kTempFail;
    expect.clear();
    to_send.clear();
    host->OnSessionFailed(absl::UnavailableError(why), res);
  }

  void Feed(std::string_view bytes) {
    if (stage == Stage::kDone) return;
    parser.Append(bytes);
    while (stage != Stage::kDone) {
      ServerReply r;
      SmtpReplyParser::Result res = parser.Next(&r);
      if (res == SmtpReplyParser::Result::kNeedMore) break;
      if (res == SmtpReplyParser::Result::kError) {
        Fail(absl::StrCat("protocol error from next hop: ", parser.error()), nullptr);
        return;
      }
      OnReply(r);
      // Without pipelining the next command waits for this reply.
      if (stage != Stage::kDone && stage != Stage::kQuit) Flush();
    }
  }

  void OnReply(const ServerReply& r) {
    if (expect.empty()) {
      if (r.code == 421) return Fail(absl::StrCat("server closing: ", Describe(r)), &r);
      return Fail(absl::StrCat("unexpected reply: ", Describe(r)), &r);
    }
    Pending p = expect.front();
    expect.pop_front();
    if (stage == Stage::kQuit) {
      // Replies still owed before QUIT's are of no interest now.
      if (p.what == Expect::kQuit || r.code == 421) {
        stage = Stage::kDone;
        host->CloseConnection();
      }
      return;
    }
    if (r.code == 421) return Fail(absl::StrCat("server closing: ", Describe(r)), &r);
    switch (p.what) {
      case Expect::kGreeting:
        if (r.code != 220) return Fail(absl::StrCat("greeting: ", Describe(r)), &r);
        SendHello();
        return;
      case Expect::kEhlo:
        if (r.code / 100 == 2) {
          ParseCapabilities(r);
          AfterHello();
        } else if (r.code / 100 == 5 && !config.lmtp) {
          stage = Stage::kHelo;
          Send(absl::StrCat("HELO ", config.helo_name, "\r\n"), {Expect::kHelo});
        } else {
          Fail(absl::StrCat(config.lmtp ? "LHLO" : "EHLO", " refused: ", Describe(r)), &r);
        }
        return;
      case Expect::kHelo:
        if (r.code / 100 != 2) return Fail(absl::StrCat("HELO refused: ", Describe(r)), &r);
        ClearCapabilities();
        AfterHello();
        return;
      case Expect::kStartTls:
        if (r.code == 220) {
          stage = Stage::kTlsHandshake;
          parser.Discard();
          host->StartTls();
        } else if (config.tls == TlsPolicy::kRequired) {
          Fail(absl::StrCat("STARTTLS refused: ", Describe(r)), &r);
        } else {
          BecomeReady();
        }
        return;
      case Expect::kMail:
        if (r.code / 100 != 2) {
          mail_failed = ResultOf(r);
          if (!pipelining) {
            // Nothing else of this transaction is on the wire: end it now.
            to_send.clear();
            FinishTransaction(true);
          }
        }
        return;
      case Expect::kRcpt:
        if (p.index < results.size()) {
          if (mail_failed.has_value()) {
            results[p.index] = *mail_failed;
          } else if (r.code / 100 == 2) {
            accepted.push_back(p.index);
          } else {
            results[p.index] = ResultOf(r);
          }
        }
        if (use_bdat && to_send.empty() && !AnyExpected(Expect::kRcpt) &&
            !AnyExpected(Expect::kMail)) {
          AfterRecipients();
        }
        return;
      case Expect::kData:
        if (r.code == 354) {
          if (accepted.empty() || mail_failed.has_value()) {
            // A server that says 354 with nothing accepted: end the empty message.
            Send(".\r\n", {Expect::kRset});
            FinishTransaction(false);
            return;
          }
          content_requested = true;
          host->WantContent();
        } else {
          data_failed = ResultOf(r);
          FinishTransaction(true);
        }
        return;
      case Expect::kBdat:
        if (bdat_outstanding > 0) --bdat_outstanding;
        if (r.code / 100 != 2 && !data_failed.has_value()) {
          data_failed = ResultOf(r);
          // A server that refused a chunk answers the LAST one once, not per recipient.
          CollapseBdatLast();
        }
        if (data_failed.has_value() && content_ended && bdat_outstanding == 0 &&
            !AnyExpected(Expect::kBdatLast)) {
          FinishTransaction(true);
        }
        return;
      case Expect::kBdatLast:
      case Expect::kDot:
        OnDataReply(r);
        return;
      case Expect::kRset:
        return;
      case Expect::kQuit:
        return;  // handled above
    }
  }

  bool AnyExpected(Expect what) const {
    for (const Pending& p : expect) {
      if (p.what == what) return true;
    }
    return false;
  }

  void CollapseBdatLast() {
    bool seen = false;
    std::deque<Pending> kept;
    for (const Pending& p : expect) {
      if (p.what == Expect::kBdatLast) {
        if (seen) continue;
        seen = true;
      }
      kept.push_back(p);
    }
    expect.swap(kept);
    if (seen) dot_replies_left = 1;
  }

  void SendHello() {
    stage = Stage::kEhlo;
    Send(absl::StrCat(config.lmtp ? "LHLO " : "EHLO ", config.helo_name, "\r\n"), {Expect::kEhlo});
  }

  void ClearCapabilities() {
    pipelining = chunking = dsn = smtputf8 = eightbit = starttls = size_ext = false;
    max_size = 0;
  }

  void ParseCapabilities(const ServerReply& r) {
    ClearCapabilities();
    // The first line is the server's name and greeting text, not a keyword.
    for (size_t i = 1; i < r.lines.size(); ++i) {
      std::string_view l = TrimSpaces(r.lines[i]);
      std::string_view kw = l.substr(0, l.find(' '));
      if (EqualsNoCase(kw, "PIPELINING")) pipelining = true;
      if (EqualsNoCase(kw, "CHUNKING")) chunking = true;
      if (EqualsNoCase(kw, "DSN")) dsn = true;
      if (EqualsNoCase(kw, "SMTPUTF8")) smtputf8 = true;
      if (EqualsNoCase(kw, "8BITMIME")) eightbit = true;
      if (EqualsNoCase(kw, "STARTTLS")) starttls = true;
      if (EqualsNoCase(kw, "SIZE")) {
        size_ext = true;
        if (kw.size() < l.size()) {
          if (auto v = ParseDecimal(TrimSpaces(l.substr(kw.size())))) max_size = *v;
        }
      }
    }
  }

  void AfterHello() {
    if (!in_tls && config.tls != TlsPolicy::kNone) {
      if (starttls && config.tls_available) {
        stage = Stage::kStartTls;
        Send("STARTTLS\r\n", {Expect::kStartTls});
        return;
      }
      if (config.tls == TlsPolicy::kRequired) {
        Fail(starttls ? "TLS is required but this host has no TLS client context"
                      : "TLS is required but the next hop does not offer STARTTLS",
             nullptr);
        return;
      }
    }
    BecomeReady();
  }

  void BecomeReady() {
    stage = Stage::kReady;
    host->OnReady();
  }

  void Start(const OutboundMessage& m) {
    recipients = m.recipients.size();
    results.assign(m.recipients.size(), std::nullopt);
    accepted.clear();
    mail_failed.reset();
    data_failed.reset();
    content_requested = false;
    content_ended = false;
    at_line_start = true;
    last_two[0] = last_two[1] = 0;
    content_bytes = 0;
    dot_replies_left = 0;
    bdat_outstanding = 0;
    bdat_buf.clear();
    stage = Stage::kTransaction;
    use_bdat = chunking;

    // Refusals decided here, before anything is sent (as Postfix does).
    if (m.smtputf8 && !smtputf8) {
      mail_failed = Local(Outcome::kPermFail, "5.6.7",
                          "SMTPUTF8 is required, but was not offered by the next hop");
    } else if (max_size > 0 && m.size > max_size) {
      mail_failed = Local(Outcome::kPermFail, "5.3.4",
                          absl::StrCat("message size ", m.size, " exceeds the next hop's limit ",
                                       max_size));
    }
    if (mail_failed.has_value() || m.recipients.empty()) {
      FinishTransaction(false);
      return;
    }
    std::string mail = absl::StrCat("MAIL FROM:<", m.sender, ">");
    if (size_ext) absl::StrAppend(&mail, " SIZE=", m.size);
    // An 8-bit body to a server without 8BITMIME goes anyway, unlabelled (as Postfix does).
    if (!m.body.empty() && eightbit &&
        (EqualsNoCase(m.body, "8BITMIME") || EqualsNoCase(m.body, "7BIT"))) {
      absl::StrAppend(&mail, " BODY=", ToUpperAscii(m.body));
    }
    if (m.smtputf8) mail += " SMTPUTF8";
    if (dsn) {
      if (EqualsNoCase(m.ret, "FULL") || EqualsNoCase(m.ret, "HDRS")) {
        absl::StrAppend(&mail, " RET=", ToUpperAscii(m.ret));
      }
      if (!m.envid.empty()) absl::StrAppend(&mail, " ENVID=", EncodeXtext(m.envid));
    }
    mail += "\r\n";
    to_send.push_back({std::move(mail), {Expect::kMail}});
    for (size_t i = 0; i < m.recipients.size(); ++i) {
      const OutboundRecipient& r = m.recipients[i];
      std::string rcpt = absl::StrCat("RCPT TO:<", r.address, ">");
      if (dsn) {
        if (SafeNotify(r.notify)) absl::StrAppend(&rcpt, " NOTIFY=", ToUpperAscii(r.notify));
        if (std::string orcpt = OrcptParam(r.orcpt); !orcpt.empty()) {
          absl::StrAppend(&rcpt, " ORCPT=", orcpt);
        }
      }
      rcpt += "\r\n";
      to_send.push_back({std::move(rcpt), {Expect::kRcpt, i}});
    }
    if (!use_bdat) to_send.push_back({"DATA\r\n", {Expect::kData}});
    Flush();
  }

  // CHUNKING: every RCPT has its reply; ask for content if anyone is left to deliver to.
  void AfterRecipients() {
    if (content_requested || stage != Stage::kTransaction) return;
    if (accepted.empty() || mail_failed.has_value()) {
      FinishTransaction(true);
      return;
    }
    content_requested = true;
    host->WantContent();
  }

  bool InContent() const {
    return stage == Stage::kTransaction && content_requested && !content_ended;
  }

  void SendBdat(bool last) {
    std::string out = absl::StrCat("BDAT ", bdat_buf.size(), last ? " LAST\r\n" : "\r\n");
    out += bdat_buf;
    bdat_buf.clear();
    if (last) {
      for (size_t i = 0; i < dot_replies_left; ++i) expect.push_back({Expect::kBdatLast});
    } else {
      expect.push_back({Expect::kBdat});
      ++bdat_outstanding;
    }
    host->SendToServer(out);
  }

  void SendContent(std::string_view bytes) {
    if (bytes.empty() || !InContent()) return;
    content_bytes += bytes.size();
    if (bytes.size() >= 2) {
      last_two[0] = bytes[bytes.size() - 2];
      last_two[1] = bytes[bytes.size() - 1];
    } else {
      last_two[0] = last_two[1];
      last_two[1] = bytes[0];
    }
    if (use_bdat) {
      // After a refused chunk no more may be sent (RFC 3030 4.2).
      if (data_failed.has_value()) return;
      bdat_buf.append(bytes.data(), bytes.size());
      if (bdat_buf.size() >= kBdatChunk) SendBdat(false);
      return;
    }
    // Dot-stuffing (RFC 5321 4.5.2). A bare LF also starts a line here: stuffing after it
    // costs nothing and keeps a lenient server from seeing "\n.\r\n" as the end.
    std::string out;
    out.reserve(bytes.size() + bytes.size() / 64 + 8);
    size_t pos = 0;
    while (pos < bytes.size()) {
      if (at_line_start && bytes[pos] == '.') out.push_back('.');
      size_t nl = bytes.find('\n', pos);
      if (nl == std::string_view::npos) {
        out.append(bytes.data() + pos, bytes.size() - pos);
        at_line_start = false;
        break;
      }
      out.append(bytes.data() + pos, nl + 1 - pos);
      pos = nl + 1;
      at_line_start = true;
    }
    host->SendToServer(out);
  }

  void EndContent() {
    if (!InContent()) return;
    content_ended = true;
    dot_replies_left = config.lmtp ? accepted.size() : 1;
    if (use_bdat) {
      if (data_failed.has_value()) {
        dot_replies_left = 0;
        bdat_buf.clear();
        if (bdat_outstanding == 0) FinishTransaction(true);
        return;  // else the last outstanding BDAT reply finishes it
      }
      SendBdat(true);
      return;
    }
    std::string out;
    if (content_bytes > 0 && !(last_two[0] == '\r' && last_two[1] == '\n')) out += "\r\n";
    out += ".\r\n";
    for (size_t i = 0; i < dot_replies_left; ++i) expect.push_back({Expect::kDot});
    host->SendToServer(out);
  }

  void OnDataReply(const ServerReply& r) {
    RecipientResult res = data_failed.has_value() ? *data_failed : ResultOf(r);
    if (config.lmtp && !data_failed.has_value()) {
      // LMTP: one reply per accepted recipient, in RCPT order (RFC 2033 4.2).
      size_t k = accepted.size() - dot_replies_left;
      if (k < accepted.size()) results[accepted[k]] = res;
    } else {
      for (size_t i : accepted) {
        if (!results[i].has_value()) results[i] = res;
      }
    }
    if (dot_replies_left > 0) --dot_replies_left;
    if (dot_replies_left == 0) FinishTransaction(data_failed.has_value());
  }

  std::vector<RecipientResult> CollectResults(const RecipientResult& missing) {
    std::vector<RecipientResult> out;
    out.reserve(results.size());
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].has_value()) {
        out.push_back(*results[i]);
      } else if (mail_failed.has_value()) {
        out.push_back(*mail_failed);
      } else if (data_failed.has_value()) {
        out.push_back(*data_failed);
      } else {
        out.push_back(missing);
      }
    }
    return out;
  }

  // Every recipient has its result: report, then get ready for the next transaction.
  void FinishTransaction(bool need_rset) {
    if (stage != Stage::kTransaction) return;
    std::vector<RecipientResult> out =
        CollectResults(Local(Outcome::kTempFail, "4.4.2", "no reply for this recipient"));
    // Replies still owed for this transaction (pipelined RCPTs, DATA) arrive before RSET's.
    to_send.clear();
    stage = Stage::kReady;
    if (need_rset) Send("RSET\r\n", {Expect::kRset});
    host->OnTransactionDone(std::move(out));
    if (stage == Stage::kReady) host->OnReady();
  }
};

SmtpClientSession::SmtpClientSession(const SmtpClientConfig& config, SmtpClientHost* host)
    : state_(std::make_unique<State>(config, host)) {}

SmtpClientSession::~SmtpClientSession() = default;

void SmtpClientSession::Feed(std::string_view bytes) { state_->Feed(bytes); }

void SmtpClientSession::OnTlsEstablished() {
  if (state_->stage != State::Stage::kTlsHandshake) return;
  state_->in_tls = true;
  state_->SendHello();
}

void SmtpClientSession::Send(const OutboundMessage& message) {
  if (state_->stage != State::Stage::kReady) {
    RecipientResult r = Local(Outcome::kTempFail, "4.3.0", "session not ready");
    state_->host->OnTransactionDone(std::vector<RecipientResult>(message.recipients.size(), r));
    return;
  }
  state_->Start(message);
}

void SmtpClientSession::SendContent(std::string_view bytes) { state_->SendContent(bytes); }

void SmtpClientSession::EndContent() { state_->EndContent(); }

void SmtpClientSession::Quit() {
  State& s = *state_;
  if (s.stage == State::Stage::kDone || s.stage == State::Stage::kQuit) return;
  const bool in_transaction = s.stage == State::Stage::kTransaction;
  s.stage = State::Stage::kQuit;
  s.to_send.clear();
  // Replies already owed come first; they are read and ignored (see OnReply).
  s.expect.push_back({State::Expect::kQuit});
  s.host->SendToServer("QUIT\r\n");
  if (in_transaction) {
    s.host->OnTransactionDone(s.CollectResults(
        Local(Outcome::kTempFail, "4.3.0", "session ended before the transaction completed")));
  }
}

void SmtpClientSession::OnConnectionLost() { state_->stage = State::Stage::kDone; }

bool SmtpClientSession::ready() const { return state_->stage == State::Stage::kReady; }

}  // namespace kensa::net
