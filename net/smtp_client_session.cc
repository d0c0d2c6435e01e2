// SPDX-License-Identifier: GPL-2.0-or-later
// The delivery client. Commands and the replies they expect travel through two queues:
// `to_send` (not yet on the wire) and `expect` (on the wire, reply pending). With PIPELINING
// everything queued goes out at once; without, one command waits for the previous reply.
#include "net/smtp_client_session.h"

#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "net/smtp_command.h"

namespace kensa::net {
namespace {

using Outcome = RecipientResult::Outcome;

struct Reply {
  int code = 0;
  std::string enhanced;
  std::string text;  // lines joined with "; "
  std::vector<std::string> lines;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "5.1.1 text" -> ("5.1.1", "text") when the class digit agrees with the reply code.
void SplitEnhanced(int code, std::string_view line, std::string* enhanced, std::string* text) {
  size_t i = 0;
  auto digits = [&](size_t max) {
    size_t start = i;
    while (i < line.size() && IsDigit(line[i]) && i - start < max) ++i;
    return i > start;
  };
  if (!line.empty() && line[0] == static_cast<char>('0' + code / 100)) {
    i = 1;
    if (i < line.size() && line[i] == '.' && (++i, digits(3)) && i < line.size() &&
        line[i] == '.' && (++i, digits(3)) && (i == line.size() || line[i] == ' ')) {
      *enhanced = std::string(line.substr(0, i));
      *text = std::string(TrimSpaces(line.substr(i)));
      return;
    }
  }
  *text = std::string(line);
}

RecipientResult ResultOf(const Reply& r) {
  RecipientResult res;
  res.code = r.code;
  res.enhanced = r.enhanced;
  res.text = r.text;
  res.outcome = r.code >= 200 && r.code < 300   ? Outcome::kDelivered
                : r.code >= 500 && r.code < 600 ? Outcome::kPermFail
                                                : Outcome::kTempFail;
  return res;
}

RecipientResult Local(Outcome o, int code, std::string enhanced, std::string text) {
  RecipientResult r;
  r.outcome = o;
  r.code = code;
  r.enhanced = std::move(enhanced);
  r.text = std::move(text);
  return r;
}

// RFC 3461 xtext for ENVID/ORCPT values that kensa passes on ("+" and two uppercase hex).
std::string UpperHexXtext(std::string_view s) {
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
  Stage stage = Stage::kGreeting;
  std::string in;  // unparsed reply bytes
  std::vector<std::string> reply_lines;
  std::deque<Pending> expect;
  std::deque<Queued> to_send;
  bool in_tls = false;

  // server capabilities (from the last EHLO)
  bool pipelining = false, chunking = false, dsn = false, smtputf8 = false, eightbit = false,
       starttls = false;
  uint64_t max_size = 0;

  // the transaction
  OutboundMessage message;
  std::vector<std::optional<RecipientResult>> results;
  std::vector<size_t> accepted;
  std::optional<RecipientResult> mail_failed;
  std::optional<RecipientResult> data_failed;
  bool content_requested = false;
  bool use_bdat = false;
  bool at_line_start = true;
  char last_two[2] = {0, 0};
  uint64_t content_bytes = 0;
  size_t dot_replies_left = 0;

  State(const SmtpClientConfig& c, SmtpClientHost* h) : config(c), host(h) {
    expect.push_back({Expect::kGreeting});
  }

  void Send(std::string line, Pending p) {
    to_send.push_back({std::move(line), p});
    Flush();
  }

  // Puts queued commands on the wire: all of them with PIPELINING, else one at a time.
  void Flush() {
    std::string out;
    while (!to_send.empty() && (expect.empty() || pipelining)) {
      Queued q = std::move(to_send.front());
      to_send.pop_front();
      if (q.pending.what == Expect::kData && !pipelining && accepted.empty()) {
        // Without pipelining DATA waits for the RCPT replies; none accepted, so no DATA.
        FinishTransaction(true);
        continue;
      }
      out += q.line;
      expect.push_back(q.pending);
    }
    if (!out.empty()) host->SendToServer(out);
  }

  void Fail(const std::string& why, const Reply* r) {
    if (stage == Stage::kDone) return;
    stage = Stage::kDone;
    RecipientResult res = r != nullptr && r->code >= 400
                              ? ResultOf(*r)
                              : Local(Outcome::kTempFail, 0, "4.4.2", why);
    if (res.outcome != Outcome::kTempFail) res.outcome = Outcome::kTempFail;
    expect.clear();
    to_send.clear();
    host->OnSessionFailed(absl::UnavailableError(why), res);
  }

  void Feed(std::string_view bytes) {
    if (stage == Stage::kDone) return;
    in.append(bytes.data(), bytes.size());
    size_t pos = 0;
    while (stage != Stage::kDone) {
      size_t nl = in.find('\n', pos);
      if (nl == std::string::npos) {
        if (in.size() - pos > config.max_reply_line_bytes) {
          Fail("reply line too long", nullptr);
          return;
        }
        break;
      }
      std::string_view line(in.data() + pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > config.max_reply_line_bytes) {
        Fail("reply line too long", nullptr);
        return;
      }
      if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2]) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        Fail(absl::StrCat("malformed reply from server: ", std::string(line.substr(0, 80))), nullptr);
        return;
      }
      reply_lines.emplace_back(line);
      if (reply_lines.size() > config.max_reply_lines) {
        Fail("too many reply lines", nullptr);
        return;
      }
      if (line.size() > 3 && line[3] == '-') continue;
      Reply r;
      r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      for (size_t i = 0; i < reply_lines.size(); ++i) {
        std::string_view l = reply_lines[i];
        std::string text = l.size() > 4 ? std::string(l.substr(4)) : "";
        r.lines.push_back(text);
        std::string enh, t;
        SplitEnhanced(r.code, text, &enh, &t);
        if (i == 0) r.enhanced = enh;
        if (!r.text.empty()) r.text += "; ";
        r.text += t;
      }
      reply_lines.clear();
      OnReply(r);
    }
    in.erase(0, pos);
  }

  void OnReply(const Reply& r) {
    if (expect.empty()) {
      Fail(absl::StrCat("unexpected reply: ", r.code, " ", r.text), &r);
      return;
    }
    Pending p = expect.front();
    expect.pop_front();
    if (r.code == 421 && p.what != Expect::kQuit) {
      Fail(absl::StrCat("server closing: ", r.code, " ", r.text), &r);
      return;
    }
    switch (p.what) {
      case Expect::kGreeting:
        if (r.code != 220) return Fail(absl::StrCat("greeting: ", r.code, " ", r.text), &r);
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
          Fail(absl::StrCat(config.lmtp ? "LHLO" : "EHLO", " refused: ", r.code, " ", r.text), &r);
        }
        return;
      case Expect::kHelo:
        if (r.code / 100 != 2) return Fail(absl::StrCat("HELO refused: ", r.code, " ", r.text), &r);
        pipelining = chunking = dsn = smtputf8 = eightbit = starttls = false;
        max_size = 0;
        AfterHello();
        return;
      case Expect::kStartTls:
        if (r.code == 220) {
          stage = Stage::kTlsHandshake;
          in.clear();  // nothing the server sent in plaintext after 220 may be trusted
          host->StartTls();
        } else if (config.tls == TlsPolicy::kRequired) {
          Fail(absl::StrCat("STARTTLS refused: ", r.code, " ", r.text), &r);
        } else {
          BecomeReady();
        }
        return;
      case Expect::kMail:
        if (r.code / 100 != 2) mail_failed = ResultOf(r);
        return;
      case Expect::kRcpt:
        if (mail_failed.has_value()) {
          results[p.index] = *mail_failed;
        } else {
          results[p.index] = ResultOf(r);
          if (r.code / 100 == 2) accepted.push_back(p.index);
        }
        if (use_bdat && expect.empty() && to_send.empty()) AfterRecipients();
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
        if (r.code / 100 != 2 && !data_failed.has_value()) data_failed = ResultOf(r);
        return;
      case Expect::kBdatLast:
      case Expect::kDot:
        OnDataReply(r);
        return;
      case Expect::kRset:
        return;
      case Expect::kQuit:
        stage = Stage::kDone;
        host->CloseConnection();
        return;
    }
  }

  void SendHello() {
    stage = Stage::kEhlo;
    Send(absl::StrCat(config.lmtp ? "LHLO " : "EHLO ", config.helo_name, "\r\n"), {Expect::kEhlo});
  }

  void ParseCapabilities(const Reply& r) {
    pipelining = chunking = dsn = smtputf8 = eightbit = starttls = false;
    max_size = 0;
    for (size_t i = 1; i < r.lines.size(); ++i) {
      std::string_view l = TrimSpaces(r.lines[i]);
      std::string_view kw = l.substr(0, l.find(' '));
      if (EqualsNoCase(kw, "PIPELINING")) pipelining = true;
      if (EqualsNoCase(kw, "CHUNKING")) chunking = true;
      if (EqualsNoCase(kw, "DSN")) dsn = true;
      if (EqualsNoCase(kw, "SMTPUTF8")) smtputf8 = true;
      if (EqualsNoCase(kw, "8BITMIME")) eightbit = true;
      if (EqualsNoCase(kw, "STARTTLS")) starttls = true;
      if (EqualsNoCase(kw, "SIZE") && kw.size() < l.size()) {
        if (auto v = ParseDecimal(TrimSpaces(l.substr(kw.size())))) max_size = *v;
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
        Fail("TLS is required but the next hop does not offer STARTTLS", nullptr);
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
    message = m;
    results.assign(m.recipients.size(), std::nullopt);
    accepted.clear();
    mail_failed.reset();
    data_failed.reset();
    content_requested = false;
    at_line_start = true;
    last_two[0] = last_two[1] = 0;
    content_bytes = 0;
    dot_replies_left = 0;
    stage = Stage::kTransaction;
    use_bdat = chunking;

    if (m.smtputf8 && !smtputf8) {
      mail_failed = Local(Outcome::kPermFail, 0, "5.6.7",
                          "SMTPUTF8 is required, but was not offered by the next hop");
    } else if (max_size > 0 && m.size > max_size) {
      mail_failed = Local(Outcome::kPermFail, 0, "5.3.4",
                          absl::StrCat("message size ", m.size, " exceeds the next hop's limit ",
                                       max_size));
    } else if (m.recipients.empty()) {
      mail_failed = Local(Outcome::kPermFail, 0, "5.5.1", "no recipients");
    }
    if (mail_failed.has_value()) {
      FinishTransaction(false);
      return;
    }
    std::string mail = absl::StrCat("MAIL FROM:<", m.sender, ">");
    if (max_size > 0 || m.size > 0) absl::StrAppend(&mail, " SIZE=", m.size);
    if (!m.body.empty() && eightbit &&
        (EqualsNoCase(m.body, "8BITMIME") || EqualsNoCase(m.body, "7BIT"))) {
      absl::StrAppend(&mail, " BODY=", ToUpperAscii(m.body));
    }
    if (m.smtputf8) mail += " SMTPUTF8";
    if (dsn) {
      if (!m.ret.empty()) absl::StrAppend(&mail, " RET=", ToUpperAscii(m.ret));
      if (!m.envid.empty()) absl::StrAppend(&mail, " ENVID=", UpperHexXtext(m.envid));
    }
    mail += "\r\n";
    to_send.push_back({std::move(mail), {Expect::kMail}});
    for (size_t i = 0; i < m.recipients.size(); ++i) {
      const OutboundRecipient& r = m.recipients[i];
      std::string rcpt = absl::StrCat("RCPT TO:<", r.address, ">");
      if (dsn) {
        if (!r.notify.empty()) absl::StrAppend(&rcpt, " NOTIFY=", r.notify);
        if (!r.orcpt.empty()) {
          size_t semi = r.orcpt.find(';');
          if (semi != std::string::npos) {
            absl::StrAppend(&rcpt, " ORCPT=", r.orcpt.substr(0, semi), ";",
                            UpperHexXtext(r.orcpt.substr(semi + 1)));
          }
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
    if (content_requested) return;
    if (accepted.empty() || mail_failed.has_value()) {
      FinishTransaction(true);
      return;
    }
    content_requested = true;
    host->WantContent();
  }

  void SendContent(std::string_view bytes) {
    if (bytes.empty() || stage != Stage::kTransaction) return;
    content_bytes += bytes.size();
    if (bytes.size() >= 2) {
      last_two[0] = bytes[bytes.size() - 2];
      last_two[1] = bytes[bytes.size() - 1];
    } else {
      last_two[0] = last_two[1];
      last_two[1] = bytes[0];
    }
    if (use_bdat) {
      std::string out = absl::StrCat("BDAT ", bytes.size(), "\r\n");
      out.append(bytes.data(), bytes.size());
      expect.push_back({Expect::kBdat});
      host->SendToServer(out);
      return;
    }
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
    if (stage != Stage::kTransaction) return;
    dot_replies_left = config.lmtp ? accepted.size() : 1;
    if (use_bdat) {
      for (size_t i = 0; i < dot_replies_left; ++i) expect.push_back({Expect::kBdatLast});
      host->SendToServer("BDAT 0 LAST\r\n");
      return;
    }
    std::string out;
    if (content_bytes > 0 && !(last_two[0] == '\r' && last_two[1] == '\n')) out += "\r\n";
    out += ".\r\n";
    for (size_t i = 0; i < dot_replies_left; ++i) expect.push_back({Expect::kDot});
    host->SendToServer(out);
  }

  void OnDataReply(const Reply& r) {
    RecipientResult res = data_failed.has_value() ? *data_failed : ResultOf(r);
    if (config.lmtp) {
      size_t k = accepted.size() - dot_replies_left;
      if (k < accepted.size()) results[accepted[k]] = res;
    } else {
      for (size_t i : accepted) results[i] = res;
    }
    if (--dot_replies_left == 0) FinishTransaction(false);
  }

  // Every recipient has its result: report, then get ready for the next transaction.
  void FinishTransaction(bool need_rset) {
    if (stage != Stage::kTransaction) return;
    std::vector<RecipientResult> out;
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].has_value()) {
        out.push_back(*results[i]);
      } else if (mail_failed.has_value()) {
        out.push_back(*mail_failed);
      } else if (data_failed.has_value()) {
        out.push_back(*data_failed);
      } else {
        out.push_back(Local(Outcome::kTempFail, 0, "4.4.2", "no reply for this recipient"));
      }
    }
    // Replies still owed for this transaction (pipelined RCPTs, DATA) arrive before RSET's.
    to_send.clear();
    if (need_rset) Send("RSET\r\n", {Expect::kRset});
    stage = Stage::kReady;
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
    RecipientResult r = Local(Outcome::kTempFail, 0, "4.3.0", "session not ready");
    state_->host->OnTransactionDone(std::vector<RecipientResult>(message.recipients.size(), r));
    return;
  }
  state_->Start(message);
}

void SmtpClientSession::SendContent(std::string_view bytes) { state_->SendContent(bytes); }

void SmtpClientSession::EndContent() { state_->EndContent(); }

void SmtpClientSession::Quit() {
  if (state_->stage == State::Stage::kDone || state_->stage == State::Stage::kQuit) return;
  state_->stage = State::Stage::kQuit;
  state_->to_send.clear();
  state_->expect.clear();
  state_->expect.push_back({State::Expect::kQuit});
  state_->host->SendToServer("QUIT\r\n");
}

void SmtpClientSession::OnConnectionLost() { state_->stage = State::Stage::kDone; }

bool SmtpClientSession::ready() const { return state_->stage == State::Stage::kReady; }

}  // namespace kensa::net
