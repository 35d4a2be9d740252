#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fenix::transport::detail {

/// Base64 (RFC 4648 §4), with padding.
std::string base64_encode(std::string_view in);

/// Base64url (RFC 4648 §5), without padding.
std::string base64url_encode(std::string_view in);

/// Decodes standard or url-safe base64, padding optional; nothing on
/// invalid input.
std::optional<std::string> base64_decode(std::string_view in);

/// Raw 20-byte SHA-1 digest (OpenSSL).
std::string sha1(std::string_view in);

/// Raw 32-byte HMAC-SHA256 (OpenSSL).
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Constant-time comparison of two equally long strings.
bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

/// Cryptographically random bytes (OpenSSL RAND_bytes).
std::string random_bytes(size_t n);

/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2):
/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string websocket_accept(std::string_view key);

/// Signed, expiring tokens (like Phoenix.Token): the payload is a 64-bit
/// id and the issue time, signed with HMAC-SHA256 under a server secret.
/// Format: base64url(id ‖ issued_at) "." base64url(mac).
std::string sign_token(std::string_view secret, uint64_t id,
                       int64_t issued_at_unix_s);

/// The id of a token that carries a valid signature and is not older than
/// `max_age_s` at `now_unix_s`.
std::optional<uint64_t> verify_token(std::string_view secret,
                                     std::string_view token,
                                     int64_t now_unix_s, int64_t max_age_s);

} // namespace fenix::transport::detail
