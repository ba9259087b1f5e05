#include "replication/lease_revoke.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "etcd/client.hpp"

namespace tandem::replication {
namespace {

struct Endpoint {
  bool tls = false;
  std::string host, port;
};

// The endpoint as the daemon's etcd client reads it (etcd::parse_endpoint_url), its "H:P" split.
Result<Endpoint> parse_endpoint(const std::string& url) {
  auto parsed = etcd::parse_endpoint_url(url);
  if (!parsed) return parsed.failure();
  Endpoint e;
  e.tls = parsed->tls;
  const std::string_view rest = parsed->target;
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
    return fail("no host:port");
  e.host = std::string(rest.substr(0, colon));
  e.port = std::string(rest.substr(colon + 1));
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']')
    e.host = e.host.substr(1, e.host.size() - 2);
  return e;
}

// A TCP connection to one address, with send and receive deadlines; -1 and `why` if none.
int connect_one(const addrinfo& a, Duration timeout, std::string& why) {
  const int fd = ::socket(a.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    why = std::strerror(errno);
    return -1;
  }
  if (::connect(fd, a.ai_addr, a.ai_addrlen) != 0 && errno != EINPROGRESS) {
    why = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int error = 0;
  socklen_t len = sizeof error;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    why = error != 0 ? std::strerror(error) : "connect timed out";
    ::close(fd);
    return -1;
  }
  // Blocking from here on, bounded by the timeouts below.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

// Each address the endpoint's host has, in turn (a name such as localhost may give ::1 first
// while etcd listens on 127.0.0.1). Numeric hosts need no resolver; a name uses the system's.
int connect_to(const Endpoint& e, Duration timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int r = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &found); r != 0) {
    why = gai_strerror(r);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next)
    if (const int fd = connect_one(*a, timeout, why); fd >= 0) return fd;
  return -1;
}

std::string openssl_error(const char* what) {
  char text[256] = "";
  const unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  return std::string(what) + (code != 0 ? ": " + std::string(text) : "");
}

// One exchange over `fd`: the request out, the answer's head back.
Result<std::string> exchange_plain(int fd, const std::string& request) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return fail(std::string("send: ") + std::strerror(errno));
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return fail(n == 0 ? "closed" : std::string("recv: ") + std::strerror(errno));
  return std::string(buf, static_cast<std::size_t>(n));
}

Result<std::string> exchange_tls(int fd, const Endpoint& e, const LeaseRevoker& where,
                                 const std::string& request) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) return fail(openssl_error("TLS context"));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), where.ca.c_str(), nullptr) != 1)
    return fail(openssl_error("CA file"));
  if (!where.certificate.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), where.certificate.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), where.private_key.c_str(), SSL_FILETYPE_PEM) != 1))
    return fail(openssl_error("client certificate"));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl) return fail(openssl_error("TLS session"));
  // etcd's certificate must name the endpoint's host, as gRPC checks it for the daemon.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (X509_VERIFY_PARAM_set1_ip_asc(param, e.host.c_str()) != 1 &&
      (X509_VERIFY_PARAM_set1_host(param, e.host.c_str(), 0) != 1 ||
       SSL_set_tlsext_host_name(ssl.get(), e.host.c_str()) != 1))
    return fail(openssl_error("TLS: etcd's host name"));
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK)
      return fail(std::string("TLS handshake: etcd's certificate: ") +
                  X509_verify_cert_error_string(verify));
    return fail(openssl_error("TLS handshake"));
  }
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) !=
      static_cast<int>(request.size()))
    return fail(openssl_error("TLS write"));
  char buf[512];
  const int n = SSL_read(ssl.get(), buf, sizeof buf);
  if (n <= 0) return fail(openssl_error("TLS read"));
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

std::string revoke_request(std::string_view authority, std::int64_t lease) {
  // The gateway takes int64 fields as JSON strings.
  const std::string body = "{\"ID\":\"" + std::to_string(lease) + "\"}";
  return "POST /v3/lease/revoke HTTP/1.1\r\nHost: " + std::string(authority) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

RevokeAnswer read_revoke_answer(std::string_view response) {
  if (response.rfind("HTTP/1.1 200 ", 0) == 0 || response.rfind("HTTP/1.0 200 ", 0) == 0)
    return RevokeAnswer::revoked;
  // etcd's "requested lease not found" (gRPC NotFound) through the gateway.
  if (response.find("requested lease not found") != std::string_view::npos)
    return RevokeAnswer::already_gone;
  return RevokeAnswer::other;
}

Result<Revoked> revoke_lease(const LeaseRevoker& where, std::int64_t lease, Duration step_timeout) {
  std::string why = "no endpoint";
  for (const std::string& url : where.endpoints) {
    ERR_clear_error();  // an error named below is this endpoint's
    auto e = parse_endpoint(url);
    if (!e) {
      why = e.error();
      continue;
    }
    std::string connect_why;
    const int fd = connect_to(*e, step_timeout, connect_why);
    if (fd < 0) {
      why = url + ": " + connect_why;
      continue;
    }
    const std::string host = e->host.find(':') != std::string::npos ? "[" + e->host + "]" : e->host;
    const std::string request = revoke_request(host + ":" + e->port, lease);
    auto answer = e->tls ? exchange_tls(fd, *e, where, request) : exchange_plain(fd, request);
    ::close(fd);
    if (!answer) {
      why = url + ": " + answer.error();
      continue;
    }
    if (const auto read = read_revoke_answer(*answer); read != RevokeAnswer::other)
      return Revoked{url, read == RevokeAnswer::already_gone};
    why = url + ": " + answer->substr(0, answer->find("\r\n"));
  }
  return fail(why);
}

}  // namespace tandem::replication
